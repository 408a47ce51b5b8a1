import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../lib/core/logger.ts';
import { isRedisUnavailable } from '../lib/core/redis-errors.ts';

/**
 * The `serve` HTTP server: one express app, routes mounted from separate modules (DoorFlow
 * webhooks here; admin pages, metrics and health from others). Each module owns its own body
 * parsing — the webhook route must see the raw bytes to verify the signature, so there is no
 * global JSON parser.
 */

/** A group of routes mounted on the app, e.g. the DoorFlow webhook receiver. */
export interface HttpModule {
  /** For logs. */
  readonly name: string;
  mount(app: Express): void;
  /** Called on close (after the server stopped accepting connections). */
  close?(): Promise<void> | void;
}

export interface ServerDeps {
  logger: Logger;
  modules: readonly HttpModule[];
  /** Grace period for in-flight requests on close, ms. Default 5 000. */
  closeGraceMs?: number;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface BuiltServer {
  readonly app: Express;
  /** Listens on `host:port` (port 0 picks a free one). */
  start(port: number, host: string): Promise<RunningServer>;
}

export function buildServer(deps: ServerDeps): BuiltServer {
  const app = express();
  app.disable('x-powered-by');
  // Behind a proxy the client address is the proxy's; we never use req.ip for decisions.
  app.set('trust proxy', false);

  for (const module of deps.modules) {
    module.mount(app);
    deps.logger.debug({ module: module.name }, 'http module mounted');
  }
  app.use((_req, res) => {
    res.status(404).json({ error: 'not_found' });
  });
  // Last-resort error handler: body-parser errors carry a status (413, 400); Redis being away is a
  // 503 (the page works again once it is back); others are 500s.
  // Bodies are never echoed back or logged: they may carry secrets.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (isRedisUnavailable(err)) {
      deps.logger.warn({ path: req.path }, 'http request failed: redis unavailable');
      if (!res.headersSent) res.status(503).set('Retry-After', '5').json({ error: 'unavailable' });
      return;
    }
    const status = (err as { status?: unknown }).status;
    const code = typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
    if (code >= 500) deps.logger.error({ err, path: req.path }, 'http request failed');
    if (res.headersSent) return;
    res
      .status(code)
      .json({ error: code === 413 ? 'payload_too_large' : code >= 500 ? 'internal_error' : 'bad_request' });
  });

  return {
    app,
    async start(port, host) {
      const server: Server = await new Promise((resolve, reject) => {
        const s = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(s)));
        s.once('error', reject);
      });
      const address = server.address() as AddressInfo;
      const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      let closing: Promise<void> | undefined;
      return {
        url: `http://${shownHost}:${address.port}`,
        port: address.port,
        close() {
          closing ??= (async () => {
            const closed = new Promise<void>((resolve) => server.close(() => resolve()));
            server.closeIdleConnections();
            const timer = setTimeout(() => server.closeAllConnections(), deps.closeGraceMs ?? 5_000);
            await closed;
            clearTimeout(timer);
            for (const module of deps.modules) await module.close?.();
          })();
          return closing;
        },
      };
    },
  };
}
