/*
 * Northwind web chat widget. Plain JS, no dependencies, no build step.
 *
 * Speaks the websocket protocol documented in channels/webchat.py:
 *   -> {"type":"hello","session":token|null}
 *   -> {"type":"message","id":clientId,"text":...}
 *   -> {"type":"button","id":clientId,"payload":...,"title":...}
 *   <- session / ack / typing / message / error
 *
 * Guarantees the widget gives the customer:
 *   - a message is shown at once (pending), kept in localStorage until the server acks it, and
 *     resent with the SAME id after a reconnect or a reload (the server de-duplicates by id);
 *   - a reload or reconnect re-renders the server's history (the list is cleared first);
 *   - message text only ever reaches the DOM through textContent / text nodes (XSS safe).
 */
(function () {
  'use strict';

  var SESSION_KEY = 'northwind.chat.session';
  var OUTBOX_KEY = 'northwind.chat.outbox';
  var OPEN_KEY = 'northwind.chat.open';
  var MAX_CHARS = 2000;
  var COUNTER_FROM = 1500;            // show the counter once the message gets long
  var BACKOFF_FIRST_MS = 500;
  var BACKOFF_MAX_MS = 10000;
  var TYPING_SAFETY_MS = 35000;       // > the gateway's Rasa timeout; never leave dots forever
  var RESEND_AFTER_MS = 10000;        // an unacked message on a live socket is sent again
  var NEAR_BOTTOM_PX = 96;
  var ROLES = { customer: 1, bot: 1, agent: 1, system: 1 };
  var LABELS = { agent: 'Support agent', system: 'System' };
  var SR_PREFIX = { customer: 'You said: ', bot: 'Assistant said: ', agent: 'Support agent said: ',
    system: 'System notice: ' };

  var root = document.getElementById('nwc');
  if (!root) return;

  // --- elements ---------------------------------------------------------------------------
  function q(sel) { return root.querySelector(sel); }
  var panel = q('.nwc-panel');
  var launcher = q('.nwc-launcher');
  var badge = q('.nwc-badge');
  var closeBtn = q('.nwc-close');
  var statusEl = q('[data-testid="status"]');
  var scroller = q('.nwc-scroll');
  var log = q('[data-testid="chat-log"]');
  var empty = q('.nwc-empty');
  var typing = q('[data-testid="typing"]');
  var form = q('.nwc-composer');
  var input = q('[data-testid="chat-input"]');
  var sendBtn = q('[data-testid="chat-send"]');
  var counter = q('.nwc-counter');

  // --- storage (localStorage may be unavailable or full: fall back to memory) --------------
  var memoryStore = {};
  function storeGet(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return memoryStore[key] || null; }
  }
  function storeSet(key, value) {
    memoryStore[key] = value;
    try { window.localStorage.setItem(key, value); } catch (e) { /* memory copy kept */ }
  }

  // The outbox lives in localStorage and is read-modify-written on every change, so two tabs of
  // the same conversation never overwrite each other's unsent messages.
  function readOutbox() {
    try {
      var list = JSON.parse(storeGet(OUTBOX_KEY) || '[]');
      return Array.isArray(list) ? list.filter(function (i) { return i && i.id; }) : [];
    } catch (e) { return []; }
  }
  function writeOutbox(list) { storeSet(OUTBOX_KEY, JSON.stringify(list)); }
  function outboxAdd(item) { var list = readOutbox(); list.push(item); writeOutbox(list); }
  function outboxRemove(id) {
    var list = readOutbox();
    var kept = list.filter(function (i) { return i.id !== id; });
    if (kept.length !== list.length) writeOutbox(kept);
  }

  // --- ids --------------------------------------------------------------------------------
  function newId() {
    var c = window.crypto;
    try { if (c && typeof c.randomUUID === 'function') return c.randomUUID(); } catch (e) { /* */ }
    var bytes = new Uint8Array(16);
    if (c && typeof c.getRandomValues === 'function') {
      c.getRandomValues(bytes);
    } else {
      for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); });
    return hex.slice(0, 4).join('') + '-' + hex.slice(4, 6).join('') + '-' + hex.slice(6, 8).join('') +
      '-' + hex.slice(8, 10).join('') + '-' + hex.slice(10).join('');
  }

  // The transcript stores customer messages as "<conversation id>:<client id>".
  function clientIdOf(entryId) {
    var s = String(entryId || '');
    return s.indexOf('web:') === 0 ? s.split(':').slice(2).join(':') : s;
  }

  // --- text -------------------------------------------------------------------------------
  function charCount(text) { return Array.from(text).length; }  // code points, like the server

  var URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
  function trimUrl(url) {
    for (;;) {
      var last = url.charAt(url.length - 1);
      if ('.,;:!?\'"*_'.indexOf(last) >= 0) { url = url.slice(0, -1); continue; }
      var pairs = { ')': '(', ']': '[', '}': '{' };
      if (pairs[last]) {
        var opens = url.split(pairs[last]).length - 1;
        var closes = url.split(last).length - 1;
        if (closes > opens) { url = url.slice(0, -1); continue; }
      }
      return url;
    }
  }
  function safeHttpUrl(raw) {
    try {
      var u = new URL(raw, window.location.href);
      return (u.protocol === 'http:' || u.protocol === 'https:') ? u.href : null;
    } catch (e) { return null; }
  }
  /* Appends text to parent as text nodes, with http(s) URLs as links. Newlines are kept by CSS
     (white-space: pre-wrap); nothing is ever parsed as HTML. */
  function appendText(parent, text, linkify) {
    if (!linkify) { parent.appendChild(document.createTextNode(text)); return; }
    var pos = 0;
    var match;
    URL_RE.lastIndex = 0;
    while ((match = URL_RE.exec(text)) !== null) {
      var url = trimUrl(match[0]);
      var href = url.length > 'https://'.length ? safeHttpUrl(url) : null;
      if (!href) { continue; }
      if (match.index > pos) parent.appendChild(document.createTextNode(text.slice(pos, match.index)));
      var a = document.createElement('a');
      a.href = href;
      a.target = '_blank';
      a.rel = 'noopener';
      a.textContent = url;
      parent.appendChild(a);
      pos = match.index + url.length;
      URL_RE.lastIndex = pos;
    }
    if (pos < text.length) parent.appendChild(document.createTextNode(text.slice(pos)));
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }

  var timeFmt = null;
  try { timeFmt = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' }); } catch (e) { /* */ }
  function timeNode(ts) {
    var seconds = Number(ts);
    if (!isFinite(seconds) || seconds <= 0) seconds = Date.now() / 1000;
    var d = new Date(seconds * 1000);
    var t = el('time', 'nwc-time', timeFmt ? timeFmt.format(d) : d.toLocaleTimeString());
    t.dateTime = d.toISOString();
    t.title = d.toLocaleString();
    return t;
  }

  // --- rendering ----------------------------------------------------------------------------
  function isNearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < NEAR_BOTTOM_PX;
  }
  var reducedMotion = window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  function scrollToBottom(smooth) {
    var top = scroller.scrollHeight;
    if (smooth && !reducedMotion && scroller.scrollTo) {
      scroller.scrollTo({ top: top, behavior: 'smooth' });
    } else {
      scroller.scrollTop = top;
    }
  }
  function refreshEmpty() { empty.hidden = log.children.length > 0; }

  /* Builds one message <li>. m: {id, role, text, buttons, image_url, ts, clientId, state} */
  function buildMessage(m) {
    var role = ROLES[m.role] ? m.role : 'bot';
    var li = el('li', 'nwc-msg nwc-msg--' + role);
    li.setAttribute('data-testid', 'msg');
    li.setAttribute('data-role', role);
    if (m.id) li.setAttribute('data-id', String(m.id));
    if (m.clientId) li.setAttribute('data-client-id', m.clientId);

    if (LABELS[role]) {
      var label = el('div', 'nwc-label');
      label.appendChild(el('span', 'nwc-label__icon'));
      label.appendChild(el('span', null, LABELS[role]));
      li.appendChild(label);
    }
    var bubble = el('div', 'nwc-bubble');
    if (!LABELS[role]) bubble.appendChild(el('span', 'nwc-sr-only', SR_PREFIX[role]));
    var body = el('span', 'nwc-text');
    body.setAttribute('data-testid', 'msg-text');
    appendText(body, String(m.text == null ? '' : m.text), role !== 'customer');
    bubble.appendChild(body);
    if (m.image_url) {
      var src = safeHttpUrl(String(m.image_url));
      if (src) {
        var link = el('a', 'nwc-image');
        link.href = src; link.target = '_blank'; link.rel = 'noopener';
        var img = document.createElement('img');
        img.src = src; img.alt = 'Image from the assistant'; img.loading = 'lazy';
        link.appendChild(img);
        bubble.appendChild(link);
      }
    }
    li.appendChild(bubble);

    var buttons = Array.isArray(m.buttons) ? m.buttons.filter(function (b) { return b && b.payload; }) : [];
    if (buttons.length && role !== 'customer') {
      var group = el('div', 'nwc-choices');
      group.setAttribute('role', 'group');
      group.setAttribute('aria-label', 'Suggested replies');
      buttons.forEach(function (b) {
        var title = String(b.title || b.payload);
        var btn = el('button', 'nwc-choice', title);
        btn.type = 'button';
        btn.setAttribute('data-testid', 'msg-button');
        btn.setAttribute('data-payload', String(b.payload));
        btn.addEventListener('click', function () { choose(btn, title, String(b.payload)); });
        group.appendChild(btn);
      });
      li.appendChild(group);
    }

    var meta = el('div', 'nwc-meta');
    meta.appendChild(timeNode(m.ts));
    if (role === 'customer') {
      var state = el('span', 'nwc-state');
      meta.appendChild(state);
    }
    li.appendChild(meta);
    if (role === 'customer') setState(li, m.state || 'sent');
    return li;
  }

  function setState(li, state) {
    li.setAttribute('data-state', state);
    var node = li.querySelector('.nwc-state');
    if (!node) return;
    if (state === 'pending') node.textContent = ready ? 'Sending…' : 'Waiting for connection…';
    else node.textContent = 'Sent';
  }
  function refreshPendingLabels() {
    Array.prototype.forEach.call(log.querySelectorAll('li[data-state="pending"]'), function (li) {
      setState(li, 'pending');
    });
  }

  function appendNode(li, opts) {
    var stick = opts.force || isNearBottom();
    log.appendChild(li);
    refreshEmpty();
    if (stick) scrollToBottom(!opts.instant);
  }

  function disableAllChoices() {
    Array.prototype.forEach.call(log.querySelectorAll('button.nwc-choice'), function (b) {
      b.disabled = true;
    });
  }

  function renderServerMessage(frame, live) {
    if (frame.id != null && log.querySelector('li[data-id="' + cssEscape(String(frame.id)) + '"]')) {
      return;  // already shown (e.g. in the history of this same connection)
    }
    var role = ROLES[frame.role] ? frame.role : 'bot';
    if (role !== 'customer' && live) {
      // The first message of a new reply replaces the options offered before (the server keeps
      // only the latest reply's buttons); messages of the same reply keep each other's.
      if (batchClosed) disableAllChoices();
      batchClosed = false;
    }
    var clientId = role === 'customer' ? clientIdOf(frame.id) : null;
    if (clientId && log.querySelector('li[data-client-id="' + cssEscape(clientId) + '"]')) return;
    var li = buildMessage({ id: frame.id, role: role, text: frame.text, buttons: frame.buttons,
      image_url: frame.image_url, ts: frame.ts, clientId: clientId, state: 'sent' });
    appendNode(li, { force: false });
    if (live && role !== 'customer' && panel.hidden) bumpUnread();
  }

  function renderOutgoing(item) {
    var li = buildMessage({ role: 'customer', text: item.type === 'button' ? item.title : item.text,
      ts: item.ts, clientId: item.id, state: 'pending' });
    appendNode(li, { force: true });
    return li;
  }

  function addNotice(text) {
    text = String(text || 'Something went wrong.');
    var last = log.lastElementChild;
    if (last && last.classList.contains('nwc-notice') && last.textContent === text) return;
    var li = el('li', 'nwc-notice');
    li.setAttribute('data-testid', 'notice');
    li.appendChild(el('span', 'nwc-notice__icon'));
    li.appendChild(el('span', null, text));
    appendNode(li, { force: true });
  }

  function renderHistory(history) {
    log.setAttribute('aria-busy', 'true');
    while (log.firstChild) log.removeChild(log.firstChild);
    var entries = Array.isArray(history) ? history : [];
    var seenClientIds = {};
    entries.forEach(function (entry) {
      if (!entry || typeof entry !== 'object') return;
      var role = ROLES[entry.role] ? entry.role : 'bot';
      var clientId = role === 'customer' ? clientIdOf(entry.id) : null;
      if (clientId) seenClientIds[clientId] = true;
      log.appendChild(buildMessage({ id: entry.id, role: role, text: entry.text,
        buttons: entry.buttons, image_url: entry.image_url, ts: entry.ts, clientId: clientId,
        state: 'sent' }));
    });
    // Options stay usable only on the latest reply (what the server still offers).
    disableAllChoices();
    var outbox = readOutbox();
    var unsent = outbox.filter(function (item) { return !seenClientIds[item.id]; });
    if (!unsent.length) {
      for (var node = log.lastElementChild; node && node.getAttribute('data-role') !== 'customer';
        node = node.previousElementSibling) {
        Array.prototype.forEach.call(node.querySelectorAll('button.nwc-choice'), function (b) {
          b.disabled = false;
        });
      }
    }
    unsent.forEach(function (item) {
      log.appendChild(buildMessage({ role: 'customer',
        text: item.type === 'button' ? item.title : item.text, ts: item.ts, clientId: item.id,
        state: 'pending' }));
    });
    log.setAttribute('aria-busy', 'false');
    refreshEmpty();
    scrollToBottom(false);
  }

  function cssEscape(s) {
    if (window.CSS && typeof window.CSS.escape === 'function') return window.CSS.escape(s);
    return s.replace(/["\\\]\[]/g, '\\$&');
  }

  // --- typing indicator ---------------------------------------------------------------------
  var typingTimer = null;
  function showTyping() {
    var stick = isNearBottom();
    typing.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, TYPING_SAFETY_MS);
    if (stick) scrollToBottom(true);
  }
  function hideTyping() {
    clearTimeout(typingTimer);
    typingTimer = null;
    typing.hidden = true;
  }

  // --- connection -----------------------------------------------------------------------------
  var ws = null;
  var ready = false;          // a session frame arrived on the current socket
  var attempt = 0;
  var everConnected = false;
  var reconnectTimer = null;
  var batchClosed = true;     // typing:off (or a customer message) ends the current reply
  var earlyFrames = [];       // message frames that beat the session frame on a new socket
  var sentAt = {};            // client id -> last transmit time (this page only)

  function wsUrl() {
    var proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    return proto + '//' + window.location.host + '/webchat/ws';
  }

  function setStatus(state) {
    var text = { connecting: 'Connecting…', online: 'Online', reconnecting: 'Reconnecting…',
      offline: 'Offline — waiting for network…' }[state];
    statusEl.setAttribute('data-state', state);
    statusEl.textContent = text;
    root.setAttribute('data-connection', state);
  }

  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (ws && (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN)) return;
    setStatus(everConnected || attempt > 0 ? 'reconnecting' : 'connecting');
    var sock;
    try {
      sock = new WebSocket(wsUrl());
    } catch (e) {
      scheduleReconnect();
      return;
    }
    ws = sock;
    ready = false;
    earlyFrames = [];
    sock.onopen = function () {
      if (sock !== ws) return;
      rawSend({ type: 'hello', session: storeGet(SESSION_KEY) || null });
    };
    sock.onmessage = function (ev) {
      if (sock !== ws) return;
      var frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      if (frame && typeof frame === 'object') handleFrame(frame);
    };
    sock.onclose = function () {
      if (sock !== ws) return;
      ws = null;
      ready = false;
      hideTyping();
      refreshPendingLabels();
      scheduleReconnect();
    };
    sock.onerror = function () { /* onclose follows and schedules the retry */ };
  }

  function scheduleReconnect() {
    clearTimeout(reconnectTimer);
    var base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * Math.pow(2, attempt));
    var delay = Math.min(BACKOFF_MAX_MS, Math.round(base * (0.8 + Math.random() * 0.4)));
    attempt += 1;
    setStatus(navigator.onLine === false ? 'offline' : 'reconnecting');
    reconnectTimer = setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (ws) return;
    attempt = 0;
    connect();
  }

  function rawSend(frame) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    try { ws.send(JSON.stringify(frame)); return true; } catch (e) { return false; }
  }

  function frameFor(item) {
    return item.type === 'button'
      ? { type: 'button', id: item.id, payload: item.payload, title: item.title }
      : { type: 'message', id: item.id, text: item.text };
  }
  function transmit(item) {
    if (!ready) return;
    if (rawSend(frameFor(item))) sentAt[item.id] = Date.now();
  }
  function flushOutbox(onlyStale) {
    if (!ready) return;
    var now = Date.now();
    readOutbox().forEach(function (item) {
      if (!onlyStale || !sentAt[item.id] || now - sentAt[item.id] > RESEND_AFTER_MS) transmit(item);
    });
  }

  function handleFrame(frame) {
    switch (frame.type) {
      case 'session':
        if (typeof frame.session === 'string' && frame.session) storeSet(SESSION_KEY, frame.session);
        ready = true;
        attempt = 0;
        everConnected = true;
        setStatus('online');
        hideTyping();
        batchClosed = true;
        renderHistory(frame.history);
        earlyFrames.splice(0).forEach(function (f) { renderServerMessage(f, true); });
        flushOutbox(false);
        break;
      case 'ack':
        onAck(String(frame.id));
        break;
      case 'typing':
        batchClosed = true;
        if (frame.on) showTyping(); else hideTyping();
        break;
      case 'message':
        if (!ready) { earlyFrames.push(frame); break; }
        hideTyping();
        renderServerMessage(frame, true);
        break;
      case 'error':
        addNotice(frame.text);
        if (frame.code === 'no_session') rawSend({ type: 'hello', session: storeGet(SESSION_KEY) || null });
        break;
      default:
        break;  // newer server, older widget: ignore what we do not know
    }
  }

  function onAck(id) {
    outboxRemove(id);
    delete sentAt[id];
    var li = log.querySelector('li[data-client-id="' + cssEscape(id) + '"]');
    if (li) setState(li, 'sent');
  }

  // Unacked messages on a live socket (lost frame, rate limit) are sent again, same id.
  setInterval(function () { flushOutbox(true); }, 3000);

  // --- sending --------------------------------------------------------------------------------
  function queueOutgoing(item) {
    outboxAdd(item);
    batchClosed = true;
    renderOutgoing(item);
    transmit(item);
  }

  function submit() {
    var text = input.value.replace(/^\s+|\s+$/g, '');
    if (!text) return;
    if (charCount(text) > MAX_CHARS) { updateComposer(); input.focus(); return; }
    queueOutgoing({ type: 'message', id: newId(), text: text, ts: Date.now() / 1000 });
    input.value = '';
    updateComposer();
    input.focus();
  }

  function choose(btn, title, payload) {
    if (btn.disabled) return;
    disableAllChoices();
    btn.classList.add('nwc-choice--chosen');
    btn.setAttribute('aria-pressed', 'true');
    queueOutgoing({ type: 'button', id: newId(), payload: payload, title: title, ts: Date.now() / 1000 });
  }

  function updateComposer() {
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight, 140) + 'px';
    var n = charCount(input.value);
    var over = n > MAX_CHARS;
    var trimmedEmpty = !input.value.replace(/\s+/g, '');
    sendBtn.disabled = trimmedEmpty || over;
    counter.hidden = n < COUNTER_FROM;
    counter.textContent = over
      ? n.toLocaleString() + ' / ' + MAX_CHARS.toLocaleString() + ' — please shorten your message'
      : n.toLocaleString() + ' / ' + MAX_CHARS.toLocaleString();
    counter.classList.toggle('nwc-counter--over', over);
    input.setAttribute('aria-invalid', over ? 'true' : 'false');
  }

  form.addEventListener('submit', function (e) { e.preventDefault(); submit(); });
  input.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      submit();
    }
  });
  input.addEventListener('input', updateComposer);

  // --- open / close -----------------------------------------------------------------------------
  var unread = 0;
  function bumpUnread() {
    unread += 1;
    badge.textContent = unread > 9 ? '9+' : String(unread);
    badge.hidden = false;
    launcher.setAttribute('aria-label', 'Open chat (' + unread + ' new)');
  }
  function setOpen(open, byUser) {
    panel.hidden = !open;
    root.setAttribute('data-open', open ? 'true' : 'false');
    launcher.setAttribute('aria-expanded', open ? 'true' : 'false');
    if (byUser) storeSet(OPEN_KEY, open ? '1' : '0');  // remember the customer's choice only
    if (open) {
      unread = 0;
      badge.hidden = true;
      launcher.setAttribute('aria-label', 'Close chat');
      scrollToBottom(false);
      if (byUser) input.focus();
    } else {
      launcher.setAttribute('aria-label', 'Open chat');
      if (byUser) launcher.focus();
    }
  }
  launcher.addEventListener('click', function () { setOpen(panel.hidden, true); });
  closeBtn.addEventListener('click', function () { setOpen(false, true); });
  panel.addEventListener('keydown', function (e) {
    if (e.key === 'Escape') { e.preventDefault(); setOpen(false, true); }
  });

  // --- lifecycle ------------------------------------------------------------------------------
  window.addEventListener('online', reconnectNow);
  window.addEventListener('offline', function () { if (!ready) setStatus('offline'); });
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'visible') reconnectNow();
  });

  var remembered = storeGet(OPEN_KEY);
  var startOpen = remembered === null ? window.innerWidth >= 640 : remembered === '1';
  setOpen(startOpen, false);
  updateComposer();
  refreshEmpty();
  // Show what is waiting to be sent even before the first connection succeeds.
  readOutbox().forEach(function (item) {
    log.appendChild(buildMessage({ role: 'customer',
      text: item.type === 'button' ? item.title : item.text, ts: item.ts, clientId: item.id,
      state: 'pending' }));
  });
  refreshEmpty();
  connect();
})();
