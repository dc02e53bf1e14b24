export * from './geometry/index.js';
export * from './ingest/index.js';
export * from './lake/index.js';
export * from './schema/index.js';
export * from './server/index.js';
export * from './shards/index.js';
