/* The leads' dashboard: figures, SVG charts, flagged conversations and alerts.
   Every piece of customer data reaches the DOM through textContent or attributes (never
   innerHTML), under the console's script-src 'self' CSP. */
(function () {
  'use strict';
  var API = '/console/api';
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var COLOURS = ['#1d4f44', '#c77d00', '#3867b5', '#a02a1c', '#6b4fa0', '#2b7a78', '#7a6a2b'];
  var socket = null;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }
  function svg(tag, attrs, children) {
    var node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }
  function setAttrs(node, attrs) {
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === 'text') node.textContent = String(value);
      else if (key === 'className') node.setAttribute('class', value);
      else node.setAttribute(key, value === true ? '' : String(value));
    });
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function byId(id) { return document.getElementById(id); }

  function api(method, path, body) {
    var opts = { method: method, credentials: 'same-origin', headers: { 'Accept': 'application/json' } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    return fetch(API + path, opts).then(function (resp) {
      return resp.json().catch(function () { return null; }).then(function (data) {
        if (!resp.ok) {
          var error = new Error((data && data.message) || ('HTTP ' + resp.status));
          error.status = resp.status;
          throw error;
        }
        return data;
      });
    });
  }

  // --- formatting ----------------------------------------------------------------------------
  function pct(v) { return v === null || v === undefined ? '–' : (100 * v).toFixed(1) + '%'; }
  function secs(v) {
    if (v === null || v === undefined) return '–';
    if (v < 120) return Math.round(v) + ' s';
    if (v < 7200) return (v / 60).toFixed(1) + ' min';
    return (v / 3600).toFixed(1) + ' h';
  }
  function num(v, digits) { return v === null || v === undefined ? '–' : v.toFixed(digits); }

  function figure(list, id, label, value, small) {
    list.appendChild(el('div', { id: id }, [
      el('dt', { text: label }), el('dd', { text: value, className: small ? 'small' : null })]));
  }

  function renderFigures(f) {
    var list = byId('figures');
    clear(list);
    figure(list, 'fig-conversations', 'Conversations (ended)', String(f.conversations));
    figure(list, 'fig-containment', 'Containment', pct(f.containment_rate));
    figure(list, 'fig-escalation', 'Escalation', pct(f.escalation_rate));
    figure(list, 'fig-fcr', 'First-contact resolution', pct(f.fcr_rate) + ' of ' + f.fcr_counted, true);
    figure(list, 'fig-first-reply', 'First human reply (median)', secs(f.first_human_reply.median_s));
    figure(list, 'fig-ttr', 'Time to resolution (median)', secs(f.time_to_resolution.median_s));
    figure(list, 'fig-csat', 'CSAT average (1–5)', num(f.csat_average, 2));
    figure(list, 'fig-csat-response', 'CSAT response rate', pct(f.csat_response_rate) + ' of ' + f.csat_asked, true);
    figure(list, 'fig-csat-service', 'CSAT bot / human',
           num(f.csat_by_service.bot, 2) + ' / ' + num(f.csat_by_service.human, 2), true);
    figure(list, 'fig-fallback', 'Fallback rate', pct(f.fallback_rate));
    figure(list, 'fig-unanswered', 'Cases without a reply', String(f.unanswered_cases));

    var more = byId('breakdowns');
    clear(more);
    var triggers = Object.keys(f.escalations_by_trigger).map(function (k) {
      return k + ' ' + f.escalations_by_trigger[k] + ' (' + pct(f.escalation_rate_by_trigger[k]) + ')';
    });
    figure(more, 'fig-triggers', 'Escalations by trigger', triggers.join(', ') || 'none', true);
    var topics = Object.keys(f.handoffs_by_topic).map(function (k) { return k + ' ' + f.handoffs_by_topic[k]; });
    figure(more, 'fig-topics', 'Handoffs per FAQ topic', topics.join(', ') || 'none', true);
    figure(more, 'fig-intents', 'Top intents',
           f.top_intents.map(function (p) { return p[0] + ' ' + p[1]; }).join(', ') || 'none', true);
    var days = Object.keys(f.sentiment_by_day);
    figure(more, 'fig-sentiment', 'Sentiment by day',
           days.map(function (d) { return d.slice(5) + ' ' + f.sentiment_by_day[d].toFixed(2); }).join(', ') || 'none', true);
  }

  // --- charts -------------------------------------------------------------------------------
  var W = 420, H = 180, PAD = 28;

  function chartFrame(host, label) {
    var old = host.querySelector('svg');
    if (old) host.removeChild(old);
    var chart = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, width: '100%', role: 'img', 'aria-label': label });
    host.insertBefore(chart, host.querySelector('ol'));
    return chart;
  }

  function barChart(host, label, categories, series, max) {
    var chart = chartFrame(host, label);
    var slot = (W - PAD * 2) / Math.max(categories.length, 1);
    categories.forEach(function (cat, i) {
      var base = H - PAD;
      series.forEach(function (s, j) {
        var value = s.values[i] || 0;
        var h = max ? (H - PAD * 2) * value / max : 0;
        chart.appendChild(svg('rect', { x: PAD + i * slot + slot * 0.15, y: base - h, width: slot * 0.7,
                                        height: h, fill: COLOURS[j % COLOURS.length],
                                        'data-series': s.name, 'data-category': cat, 'data-value': value },
                              [svg('title', { text: s.name + ' ' + cat + ': ' + value })]));
        base -= h;
      });
      chart.appendChild(svg('text', { x: PAD + i * slot + slot / 2, y: H - 10, 'text-anchor': 'middle',
                                      text: cat.length > 6 ? cat.slice(5) : cat }));
    });
    chart.appendChild(svg('text', { x: 2, y: PAD - 8, text: 'max ' + max }));
    legend(chart, series.map(function (s) { return s.name; }));
  }

  function legend(chart, names) {
    names.forEach(function (name, j) {
      chart.appendChild(svg('rect', { x: W - 110, y: 6 + j * 14, width: 10, height: 10, fill: COLOURS[j % COLOURS.length] }));
      chart.appendChild(svg('text', { x: W - 96, y: 15 + j * 14, text: name }));
    });
  }

  function lineChart(host, label, days, series) {
    var chart = chartFrame(host, label);
    var step = (W - PAD * 2) / Math.max(days.length - 1, 1);
    series.forEach(function (s, j) {
      var points = [];
      days.forEach(function (d, i) {
        var v = s.values[d];
        if (v === undefined || v === null) return;
        var x = PAD + i * step, y = H - PAD - (H - PAD * 2) * v;
        points.push(x.toFixed(1) + ',' + y.toFixed(1));
        chart.appendChild(svg('circle', { cx: x, cy: y, r: 3, fill: COLOURS[j], 'data-series': s.name,
                                          'data-category': d, 'data-value': v },
                              [svg('title', { text: s.name + ' ' + d + ': ' + pct(v) })]));
      });
      chart.appendChild(svg('polyline', { points: points.join(' '), fill: 'none', stroke: COLOURS[j], 'stroke-width': 2 }));
    });
    days.forEach(function (d, i) {
      if (days.length > 10 && i % Math.ceil(days.length / 10)) return;
      chart.appendChild(svg('text', { x: PAD + i * step, y: H - 10, 'text-anchor': 'middle', text: d.slice(5) }));
    });
    legend(chart, series.map(function (s) { return s.name; }));
  }

  function daysBetween(since, until) {
    var out = [];
    for (var t = Math.floor(since / 86400) * 86400; t < until; t += 86400) {
      out.push(new Date(t * 1000).toISOString().slice(0, 10));
    }
    return out;
  }

  function renderCharts(data) {
    var f = data.figures;
    var days = daysBetween(data.since, data.until);
    var channels = {};
    Object.keys(f.volume_by_day).forEach(function (d) {
      Object.keys(f.volume_by_day[d]).forEach(function (c) { channels[c] = true; });
    });
    var names = Object.keys(channels).sort();
    var totals = days.map(function (d) {
      var per = f.volume_by_day[d] || {};
      return names.reduce(function (sum, c) { return sum + (per[c] || 0); }, 0);
    });
    barChart(byId('chart-volume'), 'Customer messages per channel per day', days,
             names.map(function (c) {
               return { name: c, values: days.map(function (d) { return (f.volume_by_day[d] || {})[c] || 0; }) };
             }), Math.max.apply(null, totals.concat([1])));
    lineChart(byId('chart-containment'), 'Containment and escalation per day', days,
              [{ name: 'containment', values: f.containment_by_day },
               { name: 'escalation', values: f.escalation_by_day }]);
    var ratings = ['1', '2', '3', '4', '5'];
    var counts = ratings.map(function (r) { return f.csat_distribution[r] || 0; });
    barChart(byId('chart-csat'), 'CSAT ratings, 1 to 5', ratings,
             [{ name: 'ratings', values: counts }], Math.max.apply(null, counts.concat([1])));
    var list = byId('misunderstood');
    clear(list);
    f.top_misunderstood.forEach(function (pair) {
      list.appendChild(el('li', {}, [el('span', { className: 'text', text: pair[0] }), ' × ' + pair[1]]));
    });
    if (!f.top_misunderstood.length) list.appendChild(el('li', { text: 'Nothing yet.' }));
  }

  // --- alerts and flagged conversations ---------------------------------------------------
  function alertItem(alert) {
    var examples = el('ul', {}, (alert.examples || []).map(function (e) { return el('li', { text: e }); }));
    return el('li', { className: 'alert', 'data-signal': alert.signal }, [el('strong', { text: alert.text }), examples]);
  }

  function renderAlerts(alerts) {
    var list = byId('alert-list');
    clear(list);
    alerts.forEach(function (a) { list.appendChild(alertItem(a)); });
    byId('alerts').hidden = !alerts.length;
  }

  function renderFlagged(data) {
    var list = byId('flagged');
    clear(list);
    byId('flagged-summary').textContent = data.flagged_open + ' to review, ' + data.flagged_total + ' flagged in the period.';
    data.flagged.forEach(function (item) {
      var reasons = el('ul', { className: 'reasons' }, item.flags.map(function (f) {
        return el('li', { 'data-flag': f.flag, text: f.flag.replace(/_/g, ' ') + ': ' + f.reason });
      }));
      var when = new Date(item.started_at * 1000).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
      var show = el('button', { type: 'button', text: 'Show transcript', 'aria-label': 'Show the transcript of the ' + item.channel + ' conversation of ' + when });
      show.addEventListener('click', function () { openTranscript(item, when); });
      var done = el('button', { type: 'button', className: 'primary', text: item.reviewed ? 'Reviewed' : 'Mark reviewed', disabled: item.reviewed });
      done.addEventListener('click', function () {
        api('POST', '/dashboard/conversations/' + item.conversation + '/reviewed', { started_at: item.started_at })
          .then(load, showError);
      });
      list.appendChild(el('li', { className: item.reviewed ? 'reviewed' : null, 'data-conversation': item.conversation },
                          [el('span', { text: item.channel + ' · ' + when }), reasons, show, done]));
    });
  }

  function openTranscript(item, when) {
    api('GET', '/dashboard/conversations/' + item.conversation + '?started_at=' + encodeURIComponent(item.started_at))
      .then(function (data) {
        var list = byId('review-transcript');
        clear(list);
        data.transcript.forEach(function (line) {
          list.appendChild(el('li', { className: line.who }, [
            el('span', { className: 'who', text: line.who }), el('span', { text: line.text }),
            line.intent ? el('span', { className: 'intent', text: line.intent +
              (line.confidence !== null && line.confidence !== undefined ? ' ' + line.confidence.toFixed(2) : '') }) : null]));
        });
        byId('review-title').textContent = 'Transcript: ' + item.channel + ' · ' + when;
        byId('review').hidden = false;
        byId('review-title').focus();
      }, showError);
  }

  function showError(error) {
    var status = byId('status');
    if (error.status === 401) {
      clear(status);
      status.appendChild(el('span', { text: 'Please sign in first: ' }));
      status.appendChild(el('a', { href: '/console/', text: 'open the console' }));
      return;
    }
    status.textContent = error.message;
  }

  function load() {
    var days = byId('days').value;
    var channel = byId('channel').value;
    var query = '?days=' + encodeURIComponent(days) + (channel ? '&channel=' + encodeURIComponent(channel) : '');
    return api('GET', '/dashboard' + query).then(function (data) {
      var select = byId('channel');
      if (select.options.length === 1) {
        data.channels.forEach(function (c) { select.appendChild(el('option', { value: c, text: c })); });
      }
      renderFigures(data.figures);
      renderCharts(data);
      renderAlerts(data.alerts);
      renderFlagged(data);
      byId('status').textContent = 'Figures for the last ' + data.days + ' day(s)' + (data.channel ? ' on ' + data.channel : '') + '.';
      document.body.setAttribute('data-loaded', 'true');
      connect();
    }, showError);
  }

  function connect() {
    if (socket) return;
    var scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    socket = new WebSocket(scheme + location.host + '/console/ws?purpose=dashboard');
    socket.addEventListener('message', function (event) {
      var frame = null;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame && frame.type === 'alert') {
        byId('alert-list').insertBefore(alertItem(frame.alert), byId('alert-list').firstChild);
        byId('alerts').hidden = false;
        byId('status').textContent = 'New alert: ' + frame.alert.text;
      }
    });
    socket.addEventListener('close', function () { socket = null; });
  }

  document.addEventListener('DOMContentLoaded', function () {
    byId('days').addEventListener('change', load);
    byId('channel').addEventListener('change', load);
    load();
  });
})();
