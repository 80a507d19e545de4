export { testExporter } from '../harness/exporter.js';
