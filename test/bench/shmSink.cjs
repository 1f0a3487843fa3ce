// Child process of the shm-file throughput benchmark: register tsx, then run the sink.
require('tsx/cjs');
require('./shmSink.ts');
