import express, { type Router } from 'express';
import type { Registry } from 'prom-client';
import { safeEqual } from './admin-auth.ts';

/**
 * `/metrics` in the Prometheus text format. Scrape-time gauges (jobs per queue and state, dead
 * letters, credentials by status) read Redis here, so one scrape reflects the whole fleet.
 * Not under `/admin`: Prometheus scrapers rarely carry credentials, and nothing here is secret
 * (labels are queue names, route templates, statuses and error codes). With METRICS_TOKEN set,
 * a scrape needs `Authorization: Bearer <METRICS_TOKEN>` (401 otherwise).
 */
export function metricsRouter(registry: Registry, options: { token?: string | undefined } = {}): Router {
  const router = express.Router();
  router.get('/metrics', async (req, res, next) => {
    const { token } = options;
    if (token !== undefined) {
      const header = req.headers.authorization ?? '';
      if (!/^Bearer /i.test(header) || !safeEqual(header.slice(7).trim(), token)) {
        res.status(401).set('WWW-Authenticate', 'Bearer realm="metrics"').json({ error: 'unauthorized' });
        return;
      }
    }
    try {
      const body = await registry.metrics();
      res.set('Content-Type', registry.contentType).set('Cache-Control', 'no-store').send(body);
    } catch (err) {
      next(err);
    }
  });
  return router;
}
