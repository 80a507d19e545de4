export { sh } from '../harness/run.js';
export * from '../harness/netns.js';
