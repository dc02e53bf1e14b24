export * from './embeddings-fold.js';
export * from './frame.js';
export * from './ingest-lock.js';
export * from './ingest-service.js';
export * from './metric-table.js';
export * from './spool-sync.js';
export * from './tracked-runs.js';
export * from './write-ahead-log.js';
