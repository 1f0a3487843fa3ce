// Worker threads start without the parent's loader hooks: register tsx, then run the sink.
require('tsx/cjs');
require('./sinkWorker.ts');
