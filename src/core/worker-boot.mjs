// Worker-thread entry: installs tsx's TypeScript loader in this thread, then runs the job runner.
import { register } from 'tsx/esm/api';
register();
await import(new URL('./worker-run.ts', import.meta.url).href);
