export * from './csv-sweep.js';
