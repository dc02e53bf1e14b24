export * from './csv-sweep.js';
export * from './import-file.js';
export * from './wandb.js';
