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
      inspect(): Promise<unknown>;
    }
  }
  class Docker {
    constructor(opts?: Docker.DockerOptions);
    info(): Promise<unknown>;
    listNodes(): Promise<unknown[]>;
    listServices(): Promise<unknown[]>;
    listNetworks(): Promise<unknown[]>;
    listContainers(opts?: { all?: boolean }): Promise<unknown[]>;
    getNetwork(id: string): Docker.Network;
    getContainer(id: string): Docker.Container;
    getEvents(opts?: { filters?: string }): Promise<NodeJS.ReadableStream>;
  }
  export = Docker;
}
