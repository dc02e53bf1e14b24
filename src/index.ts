export * from './lake/index.js';
