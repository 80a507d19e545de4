export * from '../harness/prom.js';
