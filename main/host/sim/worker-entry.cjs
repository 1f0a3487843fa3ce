// Worker threads start without the parent's loader hooks: register tsx, then run the board.
require('tsx/cjs');
require('./worker.ts');
