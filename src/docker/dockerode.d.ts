// Types for the part of dockerode 5 that client.ts calls. DefinitelyTyped's
// @types/dockerode stops at dockerode 4, so the surface we use is declared
// here, checked against dockerode 5's lib/*.js, and nothing more.
declare module 'dockerode' {
  namespace Docker {
    interface DockerOptions {
      socketPath?: string;
      protocol?: 'http' | 'https';
      host?: string;
      port?: number;
      /** per request, in ms (the modem's idle timeout) */
      timeout?: number;
    }
    interface Network {
      /** GET /networks/{id}; opts become the query string (verbose, scope) */
      inspect(opts?: Record<string, unknown>): Promise<unknown>;
    }
    interface Container {
      inspect(opts?: Signal): Promise<unknown>;
    }
    /** aborts the request: the promise rejects */
    interface Signal {
      abortSignal?: AbortSignal;
    }
  }
  class Docker {
    constructor(opts?: Docker.DockerOptions);
    info(opts?: Docker.Signal): Promise<unknown>;
    listNodes(opts?: Docker.Signal): Promise<unknown[]>;
    listServices(opts?: Docker.Signal): Promise<unknown[]>;
    listNetworks(opts?: Docker.Signal): Promise<unknown[]>;
    listContainers(opts?: { all?: boolean } & Docker.Signal): Promise<unknown[]>;
    getNetwork(id: string): Docker.Network;
    getContainer(id: string): Docker.Container;
    /** abortSignal aborts the request (before its answer: the promise rejects) */
    getEvents(opts?: { filters?: string; abortSignal?: AbortSignal }): Promise<NodeJS.ReadableStream>;
  }
  export = Docker;
}
