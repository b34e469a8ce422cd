/*
 * Northwind agent console. Plain JS, no dependencies, no build step.
 *
 * Talks to the JSON API under /console/api/ and the websocket /console/ws (inbox/console.py).
 * Every piece of case data reaches the DOM through textContent / attributes only: no innerHTML.
 * A 401 anywhere (API or the socket's close code 4401) shows the sign-in form again.
 */
(function () {
  'use strict';

  var API = '/console/api';
  var SVG_NS = 'http://www.w3.org/2000/svg';
  // Each channel's label and icon come from its facts on the server (/api/me, /api/login).
  var CHANNELS = { unknown: { label: 'Other', icon: '' } };
  var TRIGGERS = {
    customer_request: 'Asked for a person',
    offer_accepted: 'Accepted the offer of a person',
    repeated_failure: 'Bot misunderstood repeatedly',
    negative_sentiment: 'Negative sentiment',
    rule: 'Escalation rule',
    complaint: 'Complaint',
    backend_unavailable: 'Assistant was unavailable'
  };
  var ROLE_LABELS = { customer: 'Customer', bot: 'Assistant', agent: 'Agent', system: 'System' };
  var ACTIONS = {
    login: 'Signed in', logout: 'Signed out', login_failed: 'Failed sign-in',
    login_locked: 'Sign-in refused (locked)', view: 'Viewed case', claim: 'Claimed',
    reply: 'Replied', return_to_bot: 'Returned to bot', resolve: 'Resolved',
    erasure: 'Data erased at the customer\'s request'
  };
  var CLOSED = { resolved: 1, returned: 1, cancelled: 1 };

  // --- state --------------------------------------------------------------------------------
  var me = null;            // {email, name}
  var cases = [];           // queue cards, in server order
  var selectedId = null;
  var detail = null;        // {case, context, transcript}
  var socket = null;
  var socketTries = 0;
  var reconnectTimer = null;
  var loadTimer = null;
  var unread = {};          // case_id -> true when the customer wrote since we last looked
  var lastCustomerText = {}; // case_id -> preview of the last customer message
  var knownIds = null;      // ids seen in the previous queue load (to flash new ones)
  var suggestionsFor = null; // the transcript length suggestions were fetched for
  var busy = false;

  // --- elements -----------------------------------------------------------------------------
  function $(sel, root) { return (root || document).querySelector(sel); }
  function byTest(id, root) { return $('[data-testid="' + id + '"]', root); }
  var loginView = byTest('login-view');
  var loginForm = byTest('login-form');
  var loginEmail = byTest('login-email');
  var loginPassword = byTest('login-password');
  var loginError = byTest('login-error');
  var loginSubmit = byTest('login-submit');
  var app = byTest('app');
  var conn = byTest('connection');
  var onlineCount = byTest('online-count');
  var meEl = byTest('me');
  var queueEl = byTest('queue');
  var waitingCount = byTest('waiting-count');
  var caseEmpty = byTest('case-empty');
  var caseView = byTest('case-view');
  var caseTitle = byTest('case-title');
  var caseStatus = byTest('case-status');
  var caseMeta = byTest('case-meta');
  var claimBtn = byTest('claim-button');
  var returnBtn = byTest('return-button');
  var resolveBtn = byTest('resolve-button');
  var transcriptEl = byTest('transcript');
  var transcriptScroll = $('.transcript-scroll');
  var composerNote = byTest('composer-note');
  var suggestionsEl = byTest('suggestions');
  var suggestionsNote = byTest('suggestions-note');
  var chipsEl = $('.chips', suggestionsEl);
  var replyForm = byTest('reply-form');
  var replyInput = byTest('reply-input');
  var sendBtn = byTest('send-button');
  var auditPanel = byTest('audit-panel');
  var auditBackdrop = byTest('audit-backdrop');
  var auditRows = byTest('audit-rows');
  var toasts = byTest('toasts');

  // --- small DOM helpers (text only) --------------------------------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value === null || value === undefined || value === false) return;
        if (key === 'text') node.textContent = String(value);
        else if (key === 'className') node.className = value;
        else node.setAttribute(key, value === true ? '' : String(value));
      });
    }
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }
  function channelIcon(ch, size) {
    var svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('width', String(size || 16));
    svg.setAttribute('height', String(size || 16));
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    var path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', ch.icon || '');
    path.setAttribute('fill', 'none');
    path.setAttribute('stroke', 'currentColor');
    path.setAttribute('stroke-width', '1.8');
    path.setAttribute('stroke-linecap', 'round');
    path.setAttribute('stroke-linejoin', 'round');
    svg.appendChild(path);
    return svg;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function channelOf(name) { return CHANNELS[name] || CHANNELS.unknown; }
  function initials(name) {
    var parts = String(name || '?').trim().split(/\s+/);
    return ((parts[0] || '?')[0] + (parts.length > 1 ? parts[parts.length - 1][0] : '')).toUpperCase();
  }
  function ago(ts) {
    if (!ts) return '';
    var s = Math.max(0, Date.now() / 1000 - ts);
    if (s < 45) return 'just now';
    if (s < 3600) return Math.round(s / 60) + ' min ago';
    if (s < 86400) return Math.round(s / 3600) + ' h ago';
    return Math.round(s / 86400) + ' d ago';
  }
  function clock(ts) {
    if (!ts) return '';
    var d = new Date(ts * 1000);
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }
  function dateTime(ts) {
    var d = new Date(ts * 1000);
    return d.toLocaleDateString([], { month: 'short', day: 'numeric' }) + ' ' +
      d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }
  function tone(score) {
    if (typeof score !== 'number') return 'mid';
    return score <= -0.25 ? 'neg' : score >= 0.25 ? 'pos' : 'mid';
  }
  function humanize(key) {
    var s = String(key).replace(/_/g, ' ');
    return s.charAt(0).toUpperCase() + s.slice(1);
  }
  function firstName(c) { return (c.agent_name || c.agent || 'a teammate').split(' ')[0]; }
  function isMine(c) { return !!(me && c && c.agent === me.email); }

  function toast(text, toneName, strong) {
    var node = el('div', { className: 'toast', 'data-tone': toneName || 'info', role: toneName === 'error' ? 'alert' : 'status', 'data-testid': 'toast' },
      strong ? [el('strong', { text: strong }), ' ', text] : [text]);
    toasts.appendChild(node);
    while (toasts.children.length > 4) toasts.removeChild(toasts.firstChild);
    setTimeout(function () { if (node.parentNode) node.parentNode.removeChild(node); }, toneName === 'error' ? 7000 : 4500);
  }

  // --- API ----------------------------------------------------------------------------------
  function ApiError(status, body) {
    this.status = status;
    this.code = body && body.error;
    this.message = (body && body.message) || ('Request failed (' + status + ')');
    this.body = body || {};
  }

  function api(method, path, body) {
    var opts = { method: method, credentials: 'same-origin', headers: { 'Accept': 'application/json' } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    return fetch(API + path, opts).then(function (resp) {
      return resp.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (resp.status === 401 && path !== '/login') {
          signedOut('Your session has ended. Please sign in again.');
        }
        if (!resp.ok) throw new ApiError(resp.status, data);
        return data;
      });
    }, function () {
      throw new ApiError(0, { message: 'The console cannot reach the server. Check your connection.' });
    });
  }

  // --- sign-in ------------------------------------------------------------------------------
  function showLogin(message) {
    app.hidden = true;
    loginView.hidden = false;
    loginError.hidden = !message;
    loginError.textContent = message || '';
    loginPassword.value = '';
    document.title = 'Sign in · Northwind agent console';
    (loginEmail.value ? loginPassword : loginEmail).focus();
  }

  function signedOut(message) {
    if (!me) return;
    me = null;
    closeSocket();
    selectedId = null;
    detail = null;
    showLogin(message);
  }

  loginForm.addEventListener('submit', function (event) {
    event.preventDefault();
    var email = loginEmail.value.trim();
    var password = loginPassword.value;
    if (!email || !password) {
      loginError.hidden = false;
      loginError.textContent = 'Enter your e-mail address and password.';
      return;
    }
    loginSubmit.disabled = true;
    loginSubmit.textContent = 'Signing in…';
    api('POST', '/login', { email: email, password: password }).then(function (data) {
      startApp(data.agent, data.channels);
    }, function (err) {
      loginError.hidden = false;
      loginError.textContent = err.message;
      loginPassword.value = '';
      loginPassword.focus();
    }).then(function () {
      loginSubmit.disabled = false;
      loginSubmit.textContent = 'Sign in';
    });
  });

  byTest('signout-button').addEventListener('click', function () {
    api('POST', '/logout').catch(function () { /* signed out either way */ }).then(function () {
      me = null;
      closeSocket();
      selectedId = null;
      detail = null;
      showLogin('');
      loginError.hidden = true;
    });
  });

  // --- app ----------------------------------------------------------------------------------
  function startApp(agent, channels) {
    me = agent;
    if (channels && channels.unknown) CHANNELS = channels;
    loginView.hidden = true;
    app.hidden = false;
    $('.avatar', meEl).textContent = initials(agent.name);
    $('.me-name', meEl).textContent = agent.name;
    meEl.title = agent.email;
    $('[data-testid="dashboard-link"]').hidden = agent.role !== 'lead';
    loadIntents();
    knownIds = null;
    selectedId = null;
    detail = null;
    renderCase();
    loadCases();
    connect();
  }

  function loadCasesSoon() {
    clearTimeout(loadTimer);
    loadTimer = setTimeout(loadCases, 120);
  }

  function loadCases() {
    if (!me) return Promise.resolve();
    return api('GET', '/cases').then(function (data) {
      var fresh = {};
      if (knownIds) {
        data.cases.forEach(function (c) { if (!knownIds[c.case_id]) fresh[c.case_id] = true; });
      }
      knownIds = {};
      data.cases.forEach(function (c) { knownIds[c.case_id] = true; });
      cases = data.cases;
      renderQueue(fresh);
      setOnline(data.online);
    }, function (err) {
      if (err.status !== 401) toast(err.message, 'error');
    });
  }

  function setOnline(list) {
    if (!list) return;
    var others = list.filter(function (e) { return !me || e !== me.email; }).length;
    onlineCount.textContent = others ? others + ' teammate' + (others > 1 ? 's' : '') + ' online' : 'No teammates online';
  }

  // --- queue --------------------------------------------------------------------------------
  function statusBadge(c) {
    var kind = c.status, text;
    if (c.status === 'follow_up') text = 'Follow-up';
    else if (c.status === 'queued') text = c.position ? 'Waiting · #' + c.position : 'Waiting';
    else if (c.status === 'active') {
      kind = isMine(c) ? 'mine' : 'active';
      text = isMine(c) ? 'Active · You' : 'Active · ' + firstName(c);
    } else if (c.status === 'resolved') text = c.csat ? 'Resolved · ' + c.csat + '/5' : 'Resolved';
    else if (c.status === 'returned') text = 'Back with bot';
    else if (c.status === 'cancelled') text = 'Cancelled';
    else text = humanize(c.status || 'unknown');
    return el('span', { className: 'badge', 'data-kind': kind, 'data-testid': 'status-badge', text: text });
  }

  function caseCard(c, isNew) {
    var ch = channelOf(c.channel);
    var trig = TRIGGERS[c.trigger && c.trigger.kind] || humanize((c.trigger && c.trigger.kind) || 'handoff');
    var senti = c.sentiment && typeof c.sentiment.latest === 'number' ? c.sentiment.latest : null;
    var label = c.customer + ', ' + ch.label + ', ' + (c.status === 'queued' && c.position ? 'waiting number ' + c.position : c.status.replace('_', '-'));
    var btn = el('button', {
      type: 'button', className: 'case-card' + (isNew ? ' is-new' : ''), 'data-testid': 'queue-item',
      'data-case-id': c.case_id, 'data-status': c.status, 'data-mine': isMine(c) ? 'true' : 'false',
      'aria-current': c.case_id === selectedId ? 'true' : 'false', 'aria-label': label
    }, [
      el('span', { className: 'cc-top' }, [
        el('span', { className: 'cc-channel', 'data-testid': 'channel' }, [channelIcon(ch, 15), ch.label]),
        el('span', { className: 'cc-id', text: c.case_id }),
        unread[c.case_id] ? el('span', { className: 'cc-unread', title: 'New message', 'data-testid': 'unread' }) : null,
        el('span', { className: 'cc-time', 'data-ts': c.closed_at || c.claimed_at || c.opened_at, text: ago(c.closed_at || c.claimed_at || c.opened_at) })
      ]),
      el('span', { className: 'cc-who', text: c.customer }),
      c.wants ? el('span', { className: 'cc-wants', text: 'Wants ' + c.wants }) : null,
      lastCustomerText[c.case_id] ? el('span', { className: 'cc-last', text: '“' + lastCustomerText[c.case_id] + '”' }) : null,
      el('span', { className: 'cc-tags' }, [
        statusBadge(c),
        el('span', { className: 'tag', 'data-testid': 'trigger', 'data-tone': c.trigger && /sentiment|complaint|rule/.test(c.trigger.kind) ? 'warn' : null, text: trig }),
        senti !== null ? el('span', { className: 'senti-dot', 'data-tone': tone(senti), title: 'Sentiment ' + senti.toFixed(2) }) : null
      ])
    ]);
    btn.addEventListener('click', function () { selectCase(c.case_id); });
    return btn;
  }

  function renderQueue(fresh) {
    var groups = [
      { key: 'waiting', title: 'Waiting', items: [], empty: 'Nobody is waiting. Nice.' },
      { key: 'mine', title: 'My cases', items: [], empty: 'Claim a waiting case to start.' },
      { key: 'team', title: 'With teammates', items: [] },
      { key: 'closed', title: 'Recently closed', items: [] }
    ];
    cases.forEach(function (c) {
      if (c.status === 'queued' || c.status === 'follow_up') groups[0].items.push(c);
      else if (c.status === 'active') groups[isMine(c) ? 1 : 2].items.push(c);
      else groups[3].items.push(c);
    });
    var hadFocus = document.activeElement && document.activeElement.getAttribute('data-case-id');
    clear(queueEl);
    groups.forEach(function (g) {
      if (!g.items.length && !g.empty) return;
      var section = el('section', { className: 'q-section', 'data-testid': 'queue-' + g.key, 'aria-label': g.title }, [
        el('h3', null, [g.title, el('span', { className: 'n', text: String(g.items.length) })])
      ]);
      if (!g.items.length) section.appendChild(el('p', { className: 'q-empty', text: g.empty }));
      else {
        var list = el('ul', { className: 'q-list', role: 'list' });
        g.items.forEach(function (c) { list.appendChild(el('li', null, [caseCard(c, fresh && fresh[c.case_id])])); });
        section.appendChild(list);
      }
      queueEl.appendChild(section);
    });
    if (hadFocus) {
      var again = $('[data-case-id="' + CSS.escape(hadFocus) + '"]', queueEl);
      if (again) again.focus();
    }
    var waiting = groups[0].items.length;
    waitingCount.textContent = waiting ? waiting + ' waiting' : 'All caught up';
    document.title = (waiting ? '(' + waiting + ') ' : '') + 'Agent console · Northwind Support';
    // The selected case's card carries the freshest state (claimed elsewhere, closed, ...).
    if (detail) {
      var card = cases.filter(function (c) { return c.case_id === detail.case.case_id; })[0];
      if (card && (card.status !== detail.case.status || card.agent !== detail.case.agent || card.position !== detail.case.position)) {
        detail.case = card;
        renderHead();
        renderComposer();
      }
    }
  }

  // --- a case -------------------------------------------------------------------------------
  function selectCase(id) {
    selectedId = id;
    delete unread[id];
    Array.prototype.forEach.call(queueEl.querySelectorAll('.case-card'), function (card) {
      card.setAttribute('aria-current', card.getAttribute('data-case-id') === id ? 'true' : 'false');
    });
    return api('GET', '/cases/' + encodeURIComponent(id)).then(function (data) {
      if (selectedId !== id) return;
      detail = data;
      suggestionsFor = null;
      renderCase();
      watch(id);
      refreshSuggestions();
      renderQueue();
    }, function (err) {
      if (err.status !== 401) toast(err.message, 'error');
    });
  }

  function renderCase() {
    caseEmpty.hidden = !!detail;
    caseView.hidden = !detail;
    if (!detail) return;
    renderHead();
    renderContext();
    renderTranscript(true);
    renderComposer();
  }

  function renderHead() {
    var c = detail.case;
    var ch = channelOf(c.channel);
    caseView.setAttribute('data-case-id', c.case_id);
    caseView.setAttribute('data-status', c.status);
    caseTitle.textContent = c.customer;
    var badge = statusBadge(c);
    caseStatus.textContent = badge.textContent;
    caseStatus.setAttribute('data-kind', badge.getAttribute('data-kind'));
    clear(caseMeta);
    caseMeta.appendChild(el('span', { className: 'mono', 'data-testid': 'case-id', text: c.case_id }));
    caseMeta.appendChild(el('span', { className: 'sep' }, [channelIcon(ch, 14), ch.label]));
    caseMeta.appendChild(el('span', { className: 'sep', text: 'Opened ' + ago(c.opened_at) }));
    if (c.status === 'active') caseMeta.appendChild(el('span', { className: 'sep', text: isMine(c) ? 'You are handling this' : 'Handled by ' + (c.agent_name || c.agent) }));

    var waiting = c.status === 'queued' || c.status === 'follow_up';
    var mine = c.status === 'active' && isMine(c);
    claimBtn.hidden = mine || !!CLOSED[c.status];
    claimBtn.disabled = busy || !waiting;
    $('span', claimBtn).textContent = c.status === 'active' ? 'Claimed by ' + firstName(c) : 'Claim';
    claimBtn.title = c.status === 'active' ? (c.agent_name || c.agent) + ' is handling this case' : '';
    returnBtn.hidden = resolveBtn.hidden = !mine;
    returnBtn.disabled = resolveBtn.disabled = busy;
  }

  function renderComposer() {
    var c = detail.case;
    var mine = c.status === 'active' && isMine(c);
    var note = '';
    if (CLOSED[c.status]) note = c.status === 'resolved' ? 'This case is resolved' + (c.csat ? ': the customer rated it ' + c.csat + '/5.' : '. The customer was asked for a rating.') :
      c.status === 'returned' ? 'This conversation is back with the assistant.' : 'The customer cancelled this request.';
    else if (c.status === 'active' && !mine) note = (c.agent_name || c.agent) + ' is handling this case.';
    else if (!mine) note = 'Claim this case to reply. The customer sees that a person joined.';
    var tone = c.status === 'queued' || c.status === 'follow_up' ? 'info' : 'muted';
    // A channel that limits replies in time (its facts' reply window): said generically, so a
    // new channel with a window needs no code here.
    var win = replyWindow(c);
    // A closed window is said before claiming too: claiming cannot make a reply possible.
    if (win && (mine || !note || !win.open)) { note = win.text; tone = win.open ? 'info' : 'warn'; }
    composerNote.hidden = !note;
    composerNote.textContent = note;
    composerNote.setAttribute('data-tone', tone);
    composerNote.setAttribute('data-reply-window', win ? (win.open ? 'open' : 'closed') : 'none');
    var canSend = mine && !(win && !win.open);
    replyInput.disabled = !canSend;
    sendBtn.disabled = !canSend || busy;
    replyForm.setAttribute('data-disabled', canSend ? 'false' : 'true');
    replyForm.hidden = !!CLOSED[c.status];
    if (!canSend) suggestionsEl.hidden = true;
  }

  var windowTimer = null;

  function replyWindow(c) {
    clearTimeout(windowTimer);
    if (c.reply_until == null || CLOSED[c.status]) return null;
    var until = new Date(c.reply_until * 1000);
    var hours = Math.round((channelOf(c.channel).reply_window_s || 0) / 3600);
    var when = until.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    if (until.toDateString() !== new Date().toDateString()) {
      when = until.toLocaleDateString([], { weekday: 'short', day: 'numeric', month: 'short' }) + ' ' + when;
    }
    var left = until.getTime() - Date.now();
    if (left <= 0) {
      return { open: false, text: 'Text replies can no longer be delivered: ' + channelOf(c.channel).label +
        ' allows them only ' + hours + ' h after the customer\'s last message. When they write again, you can reply.' };
    }
    // Closes while the case is on screen: shown as closed then, without a reload.
    windowTimer = setTimeout(function () { if (detail) renderComposer(); }, Math.min(left + 500, 2147483000));
    return { open: true, text: 'Text replies possible until ' + when + ' (' + hours +
      ' h after the customer\'s last message).' };
  }

  function dl(target, pairs, emptyText) {
    clear(target);
    if (!pairs.length) {
      target.appendChild(el('dd', { className: 'none', text: emptyText }));
      return;
    }
    pairs.forEach(function (p) {
      target.appendChild(el('dt', { text: p[0] }));
      target.appendChild(el('dd', { text: p[1] }));
    });
  }

  function renderContext() {
    var ctx = detail.context;
    var summary = ctx.summary || {};
    ['wants', 'bot_did', 'stopped_at'].forEach(function (field) {
      $('[data-field="' + field + '"]', byTest('context-summary')).textContent = summary[field] || '—';
    });

    var trig = ctx.trigger || {};
    var line = $('.trigger-line', byTest('context-trigger'));
    clear(line);
    line.appendChild(el('strong', { text: TRIGGERS[trig.kind] || humanize(trig.kind || 'unknown') }));
    if (trig.detail) line.appendChild(el('span', { text: trig.detail }));

    var cust = ctx.customer || {};
    var ch = channelOf(ctx.channel);
    var pairs = [['Channel', ch.label]];
    if (cust.display_name) pairs.push(['Name', cust.display_name]);
    if (cust.contact_hint) pairs.push(['Contact', cust.contact_hint]);
    if (ctx.follow_up_contact) pairs.push(['Follow up at', ctx.follow_up_contact]);
    pairs.push(['Customer id', cust.id || '—']);
    dl($('.kv', byTest('context-customer')), pairs);

    var slots = ctx.slots || {};
    dl($('.kv', byTest('context-slots')), Object.keys(slots).filter(function (k) {
      return slots[k] !== null && slots[k] !== '';
    }).map(function (k) { return [humanize(k), String(slots[k])]; }), 'Nothing collected yet');

    var intents = $('.intents', byTest('context-intents'));
    clear(intents);
    if (!(ctx.intents || []).length) intents.appendChild(el('li', { className: 'none', text: 'No intents recorded' }));
    (ctx.intents || []).forEach(function (it) {
      var pct = Math.round((it.confidence || 0) * 100);
      var bar = el('span', { className: 'bar', 'aria-hidden': 'true' }, [el('span')]);
      bar.firstChild.style.width = pct + '%';
      intents.appendChild(el('li', { className: 'intent', 'data-testid': 'intent' }, [
        el('span', { className: 'name', text: it.name + (it.count > 1 ? ' ×' + it.count : '') }),
        el('span', { className: 'pct', text: pct + '%', 'aria-label': pct + ' percent confidence' }),
        bar
      ]));
    });

    renderSentiment(ctx.sentiment || {});

    var steps = $('.steps', byTest('context-steps'));
    clear(steps);
    if (!(ctx.steps_tried || []).length) steps.appendChild(el('li', { className: 'none', text: 'No steps recorded' }));
    (ctx.steps_tried || []).forEach(function (s) { steps.appendChild(el('li', { text: s })); });
  }

  function renderSentiment(s) {
    var box = $('.sentiment', byTest('context-sentiment'));
    clear(box);
    if (typeof s.latest !== 'number') {
      box.appendChild(el('p', { className: 'none', text: 'No sentiment recorded' }));
      return;
    }
    var arrows = { improving: '↗ improving', worsening: '↘ worsening', steady: '→ steady' };
    box.appendChild(el('div', { className: 'senti-head' }, [
      el('span', { className: 'senti-score', 'data-tone': tone(s.latest), 'data-testid': 'sentiment-score', text: (s.latest > 0 ? '+' : '') + s.latest.toFixed(2) }),
      el('span', { className: 'senti-trend', 'data-testid': 'sentiment-trend', text: arrows[s.trend] || s.trend || '' }),
      typeof s.average === 'number' ? el('span', { className: 'senti-avg', text: 'avg ' + s.average.toFixed(2) }) : null
    ]));
    var scale = el('div', { className: 'senti-scale', role: 'img', 'aria-label': 'Latest sentiment ' + s.latest.toFixed(2) + ' on a scale from -1 to +1' }, [el('span')]);
    scale.firstChild.style.left = ((s.latest + 1) / 2 * 100).toFixed(1) + '%';
    box.appendChild(scale);
    var scores = (s.scores || []).filter(function (x) { return typeof x === 'number'; });
    if (scores.length > 1) {
      var svg = document.createElementNS(SVG_NS, 'svg');
      svg.setAttribute('class', 'spark');
      svg.setAttribute('viewBox', '0 0 100 40');
      svg.setAttribute('preserveAspectRatio', 'none');
      svg.setAttribute('role', 'img');
      svg.setAttribute('aria-label', 'Sentiment of each customer message: ' + scores.map(function (x) { return x.toFixed(2); }).join(', '));
      var mid = document.createElementNS(SVG_NS, 'line');
      mid.setAttribute('x1', '0'); mid.setAttribute('x2', '100'); mid.setAttribute('y1', '20'); mid.setAttribute('y2', '20');
      svg.appendChild(mid);
      var pts = scores.map(function (v, i) {
        return (i / (scores.length - 1) * 96 + 2).toFixed(1) + ',' + (20 - v * 17).toFixed(1);
      });
      var line = document.createElementNS(SVG_NS, 'polyline');
      line.setAttribute('points', pts.join(' '));
      line.setAttribute('vector-effect', 'non-scaling-stroke');
      svg.appendChild(line);
      box.appendChild(svg);
    }
  }

  function nearBottom() {
    return transcriptScroll.scrollHeight - transcriptScroll.scrollTop - transcriptScroll.clientHeight < 120;
  }

  function renderTranscript(forceBottom) {
    var stick = forceBottom || nearBottom();
    var entries = detail.transcript || [];
    clear(transcriptEl);
    if (!entries.length) {
      transcriptEl.appendChild(el('li', { className: 'msg', 'data-role': 'system' }, [el('span', { className: 'msg-text', text: 'No messages yet.' })]));
    }
    if (entries.length && entries[0].source === 'package') {
      transcriptEl.appendChild(el('li', { className: 'divider', 'data-testid': 'package-transcript', text: 'As handed over by the assistant' }));
    }
    entries.forEach(function (e) {
      var role = ROLE_LABELS[e.role] ? e.role : 'system';
      var who = ROLE_LABELS[role];
      var item = el('li', { className: 'msg', 'data-role': role, 'data-testid': 'transcript-entry' }, [
        el('span', { className: 'msg-meta' }, [el('span', { className: 'who', text: who }), el('time', { text: clock(e.ts), title: e.ts ? new Date(e.ts * 1000).toLocaleString() : null })]),
        el('span', { className: 'msg-text', text: e.text || '' })
      ]);
      if (e.buttons && e.buttons.length) {
        item.appendChild(el('span', { className: 'msg-buttons', 'aria-label': 'Buttons offered' },
          e.buttons.map(function (b) { return el('span', { text: b.title }); })));
      }
      if (role === 'customer' && relabelling && e.text) item.appendChild(relabelControl(e.text));
      transcriptEl.appendChild(item);
    });
    if (stick) transcriptScroll.scrollTop = transcriptScroll.scrollHeight;
  }

  // --- correcting the bot (a training candidate for `make review`) -----------------------------
  var intents = [];
  var relabelling = false;
  function loadIntents() {
    api('GET', '/intents').then(function (data) {
      intents = data.intents || [];
      relabelling = !!data.relabel;
      if (detail) renderTranscript(false);
    }, function () { relabelling = false; });
  }

  function relabelControl(text) {
    var wrap = el('span', { className: 'relabel' });
    var open = el('button', { type: 'button', className: 'btn btn-ghost btn-sm', 'data-testid': 'relabel-button',
                              text: 'Correct the bot', 'aria-expanded': 'false' });
    wrap.appendChild(open);
    open.addEventListener('click', function () {
      if (wrap.querySelector('form')) return;
      open.setAttribute('aria-expanded', 'true');
      var select = el('select', { 'data-testid': 'relabel-intent', 'aria-label': 'The intent this message means' },
        [el('option', { value: '', text: 'It means…' })].concat(intents.map(function (name) {
          return el('option', { value: name, text: name });
        })));
      var wrong = el('input', { type: 'checkbox', 'data-testid': 'relabel-wrong' });
      var form = el('form', { className: 'relabel-form', 'data-testid': 'relabel-form' }, [
        select, el('label', {}, [wrong, ' The bot answered wrongly']),
        el('button', { type: 'submit', className: 'btn btn-sm', text: 'Save' })]);
      form.addEventListener('submit', function (ev) {
        ev.preventDefault();
        if (!select.value || !detail) return;
        api('POST', '/cases/' + encodeURIComponent(detail.case.case_id) + '/relabel',
            { text: text, intent: select.value, wrong_answer: wrong.checked }).then(function () {
          clear(wrap);
          wrap.appendChild(el('span', { className: 'relabel-done', 'data-testid': 'relabel-done', role: 'status',
                                        text: 'Marked as ' + select.value + (wrong.checked ? ' (wrong answer)' : '') }));
        }, function (err) { toast(err.message || 'The correction was not saved.', 'error'); });
      });
      wrap.appendChild(form);
      select.focus();
    });
    return wrap;
  }

  function lastCustomerIndex() {
    var entries = (detail && detail.transcript) || [];
    for (var i = entries.length - 1; i >= 0; i--) if (entries[i].role === 'customer') return i;
    return -1;
  }

  // --- suggestions --------------------------------------------------------------------------
  function refreshSuggestions() {
    if (!detail) return;
    var c = detail.case;
    if (!(c.status === 'active' && isMine(c))) { suggestionsEl.hidden = true; return; }
    var marker = c.case_id + ':' + lastCustomerIndex();
    if (suggestionsFor === marker) return;
    suggestionsFor = marker;
    var id = c.case_id;
    api('GET', '/cases/' + encodeURIComponent(id) + '/suggestions').then(function (data) {
      if (!detail || detail.case.case_id !== id) return;
      renderSuggestions(data);
    }, function () { suggestionsEl.hidden = true; });
  }

  function renderSuggestions(data) {
    clear(chipsEl);
    var list = data.suggestions || [];
    list.forEach(function (s) {
      var chip = el('button', {
        type: 'button', className: 'chip', role: 'listitem', 'data-testid': 'suggestion',
        'data-topic': s.topic, title: s.text,
        'aria-label': 'Insert suggested reply about ' + humanize(s.topic) + ': ' + s.text
      }, [
        el('span', { className: 'topic', text: humanize(s.topic) }),
        el('span', { className: 'conf', text: Math.round(s.confidence * 100) + '%' })
      ]);
      chip.addEventListener('click', function () { insertSuggestion(s.text); });
      chipsEl.appendChild(chip);
    });
    suggestionsNote.hidden = !!list.length || !data.note;
    suggestionsNote.textContent = list.length ? '' : (data.note || '');
    suggestionsEl.hidden = !list.length && !data.note;
  }

  function insertSuggestion(text) {
    if (replyInput.disabled) return;
    var current = replyInput.value.replace(/\s+$/, '');
    replyInput.value = current ? current + '\n' + text : text;
    autosize();
    replyInput.focus();
    replyInput.setSelectionRange(replyInput.value.length, replyInput.value.length);
  }

  // --- actions ------------------------------------------------------------------------------
  function act(path, body, done) {
    if (!detail || busy) return Promise.resolve();
    var id = detail.case.case_id;
    busy = true;
    renderHead();
    renderComposer();
    return api('POST', '/cases/' + encodeURIComponent(id) + path, body).then(function (data) {
      if (detail && detail.case.case_id === id) {
        detail.case = data.case;
        detail.transcript = data.transcript;
        renderTranscript(true);
      }
      if (done) done(data);
    }, function (err) {
      if (err.status === 401) return;
      toast(err.message, 'error', err.status === 409 ? 'Not possible:' : null);
      if (err.body && err.body.case && detail && detail.case.case_id === id) detail.case = err.body.case;
      throw err;
    }).catch(function () { return null; }).then(function () {
      busy = false;
      if (detail) { renderHead(); renderComposer(); }
      loadCasesSoon();
    });
  }

  claimBtn.addEventListener('click', function () {
    act('/claim', undefined, function (data) {
      toast('The customer has been told you joined.', 'info', 'Case ' + data.case.case_id + ' is yours.');
      suggestionsFor = null;
      refreshSuggestions();
      replyInput.focus();
    });
  });
  returnBtn.addEventListener('click', function () {
    act('/return', undefined, function (data) { toast('The assistant has the conversation again.', 'info', data.case.case_id + ' returned.'); });
  });
  resolveBtn.addEventListener('click', function () {
    act('/resolve', undefined, function (data) { toast('The customer was asked to rate the help (1–5).', 'info', data.case.case_id + ' resolved.'); });
  });

  function send() {
    var text = replyInput.value.trim();
    if (!text || replyInput.disabled || busy) return;
    act('/reply', { text: text }, function () {
      replyInput.value = '';
      autosize();
      replyInput.focus();
    });
  }
  replyForm.addEventListener('submit', function (event) { event.preventDefault(); send(); });
  replyInput.addEventListener('keydown', function (event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
  function autosize() {
    replyInput.style.height = 'auto';
    replyInput.style.height = Math.min(replyInput.scrollHeight, 200) + 'px';
  }
  replyInput.addEventListener('input', autosize);

  // --- audit log ----------------------------------------------------------------------------
  function openAudit() {
    auditPanel.hidden = false;
    auditBackdrop.hidden = false;
    byTest('audit-close').focus();
    clear(auditRows);
    auditRows.appendChild(el('tr', null, [el('td', { colspan: '5', className: 'when', text: 'Loading…' })]));
    api('GET', '/audit?limit=200').then(function (data) {
      clear(auditRows);
      if (!data.entries.length) auditRows.appendChild(el('tr', null, [el('td', { colspan: '5', className: 'when', text: 'Nothing recorded yet.' })]));
      data.entries.forEach(function (e) {
        var detailText = auditDetail(e.detail);
        auditRows.appendChild(el('tr', { 'data-testid': 'audit-row', 'data-action': e.action }, [
          el('td', { className: 'when', text: dateTime(e.ts) }),
          el('td', { text: e.agent_name || e.agent, title: e.agent }),
          el('td', { className: 'act', 'data-kind': /failed|locked/.test(e.action) ? 'fail' : null, text: ACTIONS[e.action] || humanize(e.action) }),
          el('td', { className: 'mono', text: e.case_id || '' }),
          el('td', { className: 'detail', text: detailText })
        ]));
      });
    }, function (err) { if (err.status !== 401) toast(err.message, 'error'); });
  }
  function auditDetail(d) {
    if (!d) return '';
    var parts = [];
    if (typeof d.chars === 'number') parts.push(d.chars + ' characters');
    if (d.reason) parts.push(humanize(d.reason));
    if (d.locked) parts.push('account locked for 15 min');
    if (d.via === 'live') parts.push('live view');
    Object.keys(d).forEach(function (k) {
      if (['chars', 'reason', 'locked', 'via'].indexOf(k) < 0) parts.push(humanize(k) + ': ' + d[k]);
    });
    return parts.join(' · ');
  }
  function closeAudit() {
    auditPanel.hidden = true;
    auditBackdrop.hidden = true;
    byTest('audit-button').focus();
  }
  byTest('audit-button').addEventListener('click', openAudit);
  byTest('audit-close').addEventListener('click', closeAudit);
  auditBackdrop.addEventListener('click', closeAudit);
  document.addEventListener('keydown', function (event) {
    if (event.key === 'Escape' && !auditPanel.hidden) closeAudit();
  });

  // --- live updates -------------------------------------------------------------------------
  function setConn(state, text) {
    conn.setAttribute('data-state', state);
    $('.conn-text', conn).textContent = text;
  }

  function connect() {
    if (!me) return;
    clearTimeout(reconnectTimer);
    setConn('connecting', socketTries ? 'Reconnecting…' : 'Connecting…');
    var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/console/ws';
    var ws = new WebSocket(url);
    socket = ws;
    ws.onopen = function () {
      socketTries = 0;
      setConn('online', 'Live');
      if (selectedId) watch(selectedId);
      loadCases();
    };
    ws.onmessage = function (msg) {
      var frame;
      try { frame = JSON.parse(msg.data); } catch (e) { return; }
      onFrame(frame);
    };
    ws.onclose = function (event) {
      if (socket !== ws) return;
      socket = null;
      if (event.code === 4401 || !me) {
        if (me) signedOut('Your session has ended. Please sign in again.');
        return;
      }
      setConn('offline', 'Offline — retrying');
      socketTries += 1;
      var delay = Math.min(10000, 500 * Math.pow(2, socketTries - 1));
      reconnectTimer = setTimeout(function () {
        // A refused handshake looks like any close: ask the API whether we are still signed in.
        api('GET', '/me').then(connect, function (err) { if (err.status !== 401) connect(); });
      }, delay);
    };
  }

  function closeSocket() {
    clearTimeout(reconnectTimer);
    if (socket) {
      var ws = socket;
      socket = null;
      try { ws.close(1000); } catch (e) { /* already closed */ }
    }
    setConn('connecting', 'Connecting…');
  }

  function watch(id) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: 'watch', case_id: id }));
    }
  }

  function onFrame(frame) {
    if (frame.type === 'hello' || frame.type === 'presence') {
      setOnline(frame.online);
    } else if (frame.type === 'event') {
      onEvent(frame);
    } else if (frame.type === 'resync') {
      loadCases();  // updates were missed (the server's bus was away): the queue as it is now
    } else if (frame.type === 'transcript') {
      if (!detail || frame.case_id !== detail.case.case_id) return;
      var before = lastCustomerIndex();
      detail.case = frame.case;
      detail.transcript = frame.entries;
      renderHead();
      renderComposer();
      renderTranscript(false);
      if (lastCustomerIndex() !== before) refreshSuggestions();
    }
  }

  // The customer had their data deleted: the case no longer exists anywhere, so it leaves the
  // queue at once and its detail view closes (nothing of it may stay on screen).
  function forgetCase(id) {
    cases = cases.filter(function (c) { return c.case_id !== id; });
    delete unread[id];
    delete lastCustomerText[id];
    if (knownIds) delete knownIds[id];
    if (selectedId === id) {
      selectedId = null;
      wipeCase();
      suggestionsFor = null;
      watch(null);
      renderCase();
      toast('The customer asked for their data to be deleted, so this case is gone.', 'info', id);
    }
    renderQueue();
  }

  // Hidden is not gone: the case view is emptied, so nothing the customer said stays in the page.
  function wipeCase() {
    detail = { case: {}, context: {}, transcript: [] };
    renderContext();
    detail = null;
    clear(transcriptEl);
    clear(chipsEl);
    suggestionsEl.hidden = true;
    replyInput.value = '';
    caseTitle.textContent = '';
    caseMeta.textContent = '';
  }

  function onEvent(ev) {
    var ch = channelOf(ev.channel).label;
    if (ev.kind === 'erased') {
      forgetCase(ev.case_id);
      return;
    }
    if (ev.kind === 'opened') {
      toast('from ' + ch + ' — ' + (TRIGGERS[ev.trigger] || 'handoff').toLowerCase() + '.', 'new', 'New case ' + ev.case_id);
    } else if (ev.kind === 'customer_message') {
      if (ev.text) lastCustomerText[ev.case_id] = ev.text.length > 90 ? ev.text.slice(0, 90) + '…' : ev.text;
      if (ev.case_id !== selectedId) unread[ev.case_id] = true;
    } else if (ev.kind === 'claimed' && ev.actor && me && ev.actor !== me.email && ev.case_id === selectedId) {
      toast('took this case.', 'info', ev.actor_name || ev.actor);
    } else if (ev.kind === 'cancelled' && ev.case_id === selectedId) {
      toast('The customer cancelled the request.', 'info', ev.case_id);
    } else if (ev.kind === 'undelivered' && ev.case_id === selectedId) {
      toast('Not delivered to the customer: ' + (ev.text || 'the channel refused it') + '.', 'error', ev.case_id);
    } else if (ev.kind === 'rated' && ev.text) {
      toast('rated ' + ev.text + '/5.', 'info', ev.case_id);
    }
    loadCasesSoon();
  }

  // Keep "5 min ago" honest.
  setInterval(function () {
    Array.prototype.forEach.call(document.querySelectorAll('[data-ts]'), function (node) {
      var ts = parseFloat(node.getAttribute('data-ts'));
      if (ts) node.textContent = ago(ts);
    });
  }, 30000);

  // --- boot ---------------------------------------------------------------------------------
  api('GET', '/me').then(function (data) { startApp(data.agent, data.channels); }, function () { showLogin(''); });
})();
