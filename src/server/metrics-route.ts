import express, { type Router } from 'express';
import type { Registry } from 'prom-client';

/**
 * `/metrics` in the Prometheus text format. Scrape-time gauges (jobs per queue and state, dead
 * letters, credentials by status) read Redis here, so one scrape reflects the whole fleet.
 * Not under `/admin`: Prometheus scrapers rarely carry credentials, and nothing here is secret
 * (labels are queue names, route templates, statuses and error codes).
 */
export function metricsRouter(registry: Registry): Router {
  const router = express.Router();
  router.get('/metrics', async (_req, res, next) => {
    try {
      const body = await registry.metrics();
      res.set('Content-Type', registry.contentType).set('Cache-Control', 'no-store').send(body);
    } catch (err) {
      next(err);
    }
  });
  return router;
}
