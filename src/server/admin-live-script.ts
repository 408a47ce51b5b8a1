/**
 * The live view's browser script, served as a file (the pages' CSP allows no inline script). It
 * polls the page's JSON source, redraws the progress bars and figures, and keeps three uPlot
 * charts: people per minute and failures by code over the run's time (from the run's per-minute
 * series), and DoorFlow requests per second against the budget (sampled at each poll). Text goes
 * in through textContent only. When the charts have drawn, `#live` gets `data-charts="rendered"`.
 */
export const LIVE_SCRIPT = `(() => {
  'use strict';
  const root = document.getElementById('live');
  if (!root || typeof uPlot !== 'function') return;
  const source = root.dataset.source;
  const refresh = Number(root.dataset.refresh) || 2000;
  const width = 420, height = 180;
  const charts = {};
  const requests = { t: [], rps: [], budget: [] };
  const palette = ['#b3261e', '#8a6d00', '#1f5fa8', '#6b3fa0', '#17703a', '#444'];

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function eta(s) {
    if (s === null) return 'unknown';
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return h > 0 ? h + ' h ' + m + ' min' : m > 0 ? m + ' min' : s + ' s';
  }
  function chart(id, title, series, data) {
    const key = id + ':' + series.map((s) => s.label).join(',');
    if (charts[id] && charts[id].key === key) {
      charts[id].plot.setData(data);
      return;
    }
    if (charts[id]) charts[id].plot.destroy();
    const target = document.getElementById(id);
    target.textContent = '';
    const plot = new uPlot(
      {
        title, width, height, series: [{}].concat(series), axes: [{}, { size: 50 }],
        // uPlot widens a one-point time axis by 86400 / ms (years at the default ms = 1e-3) before
        // the range hook sees it, so the hook looks at the data: one point gets the last five minutes.
        scales: { x: { time: true, range: (u, min, max) => (u.data[0].length < 2 ? [u.data[0][0] - 300, u.data[0][0] + 60] : [min, max]) } },
        hooks: { draw: [(u) => { target.dataset.xSpan = String(Math.round(u.scales.x.max - u.scales.x.min)); }] },
      },
      data,
      target,
    );
    charts[id] = { key, plot };
  }
  function render(s) {
    const figures = document.getElementById('live-figures');
    figures.textContent = s.settled + ' of ' + s.total + ' settled · ' + s.peoplePerMinute + ' people/min · ETA ' +
      (s.finished ? 'finished' : eta(s.etaSeconds)) + ' · DoorFlow ' + s.requestsPerSecond + '/' + s.budgetPerSecond + ' requests/s';
    const steps = document.getElementById('live-steps');
    steps.textContent = '';
    for (const step of s.steps) {
      const row = el('div', undefined, 'step');
      row.dataset.step = step.step;
      row.append(el('span', step.step));
      const bar = el('progress');
      bar.max = Math.max(1, step.total);
      bar.value = step.done;
      row.append(bar, el('span', step.done + ' / ' + step.total));
      steps.append(row);
    }
    const xs = s.series.minutes;
    chart('chart-people', 'settled per minute', [{ label: 'people', stroke: '#17703a', width: 2 }], [xs, s.series.settled]);
    const codes = Object.keys(s.series.failures).sort();
    chart(
      'chart-failures',
      'failures per minute',
      codes.length ? codes.map((c, i) => ({ label: c, stroke: palette[i % palette.length], width: 2 })) : [{ label: 'none', stroke: '#999' }],
      [xs].concat(codes.length ? codes.map((c) => s.series.failures[c]) : [xs.map(() => 0)]),
    );
    requests.t.push(Math.floor(s.at / 1000));
    requests.rps.push(s.requestsPerSecond);
    requests.budget.push(s.budgetPerSecond);
    if (requests.t.length > 900) for (const k of Object.keys(requests)) requests[k].shift();
    chart(
      'chart-requests',
      'requests per second',
      [{ label: 'requests/s', stroke: '#1f5fa8', width: 2 }, { label: 'budget', stroke: '#b3261e', dash: [6, 4] }],
      [requests.t, requests.rps, requests.budget],
    );
    root.dataset.charts = 'rendered';
    document.getElementById('live-updated').textContent = 'updated ' + new Date(s.at).toISOString().slice(11, 19) + ' UTC';
  }
  async function poll() {
    try {
      const res = await fetch(source, { credentials: 'same-origin', headers: { accept: 'application/json' } });
      if (res.ok) render(await res.json());
      else document.getElementById('live-updated').textContent = 'refresh failed: HTTP ' + res.status;
    } catch (err) {
      document.getElementById('live-updated').textContent = 'refresh failed';
    }
    setTimeout(poll, refresh);
  }
  poll();
})();
`;
