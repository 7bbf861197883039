/*
 * sockjs-tornado browser client: sockjs-client 1.x plus reconnection,
 * connection state recovery, channels, presence and history.
 *
 * No build step: load sockjs-client first, then this file (the router
 * serves it as <prefix>/sockjs-tornado.js; it also ships in the Python
 * package as sockjs/tornado/client/sockjs-tornado.js).
 *
 *   <script src="/static/sockjs.min.js"></script>
 *   <script src="/chat/sockjs-tornado.js"></script>
 *   var client = new SockJSTornado('/chat', {transports: ['websocket']});
 *   client.on('message', function (data) { ... });
 *   client.on('reconnecting', function (e) { show('again in ' + e.delay + ' ms'); });
 *   var sub = client.subscribe('room', function (data, pub) { ... });
 *   client.send('hello');
 *   client.presence('room').then(function (members) { ... });
 *   client.history('room', {limit: 50}).then(function (page) { ... });
 *   client.publish('room', {text: 'hi'});  // if the server's can_publish allows
 *   client.close();
 *
 * Options: everything sockjs-client takes (transports, timeout, server,
 * sessionId...), plus
 *   reconnect: false to never reconnect, or {initial: 500, max: 10000,
 *              factor: 2, jitter: 0.5} (ms; each delay is
 *              min(max, initial * factor^attempt) less up to jitter of it).
 *   SockJS: the SockJS constructor (default: window.SockJS).
 *
 * Events (client.on(name, fn), client.off(name, fn)):
 *   open      {recovered: null|'resumed'|'restored', failed: null|reason}
 *             after every (re)connection, once the server said what it
 *             recovered
 *   message   (data) a message from conn.send / broadcast / publish_all
 *   publication (channel, data, publication) every channel publication,
 *             also of channels the server subscribed the connection to
 *   resumed   the same server connection continues; nothing was lost
 *   restored  another server process took over; channels and their
 *             missed publications are back ({lost: [channels]})
 *   recovery_failed  (reason) the server kept nothing ('expired',
 *             'overflow', 'position'): a fresh connection; channels are
 *             resubscribed (with history where the server keeps it)
 *   lost      (channel) publications on channel were missed for good
 *   join, leave (channel, client_id, info) with the server's
 *             presence_events on: a subscriber came or went
 *   reconnecting {attempt, delay, code, reason}
 *   close     {code, reason} final: client.close() or the application
 *             closed the connection (codes 3000-4999)
 *   state     (state) 'connecting' | 'open' | 'reconnecting' | 'closed'
 *
 * Wire: see sockjs/tornado/recovery.py. In short, every connection
 * carries ?_r=<token>&_p=<count>&_c=<positions>; the server's first
 * message is {"$sockjs":"welcome",...}; messages other than "welcome"
 * and "reply" are counted, and the count is what a resume presents.
 */
(function (root) {
  'use strict';

  function Emitter() { this._handlers = {}; }
  Emitter.prototype.on = function (name, fn) {
    (this._handlers[name] = this._handlers[name] || []).push(fn);
    return this;
  };
  Emitter.prototype.off = function (name, fn) {
    var list = this._handlers[name] || [];
    var i = list.indexOf(fn);
    if (i >= 0) list.splice(i, 1);
    return this;
  };
  Emitter.prototype.emit = function (name) {
    var args = Array.prototype.slice.call(arguments, 1);
    var list = (this._handlers[name] || []).slice();
    for (var i = 0; i < list.length; i++) {
      try { list[i].apply(this, args); } catch (e) { setTimeout(function () { throw e; }); }
    }
  };

  var RECONNECT = { initial: 500, max: 10000, factor: 2, jitter: 0.5 };
  var APP_CLOSE_MIN = 3000;
  var APP_CLOSE_MAX = 4999;

  function SockJSTornado(url, options) {
    Emitter.call(this);
    options = options || {};
    this.url = url;
    this.options = options;
    this._SockJS = options.SockJS || root.SockJS;
    if (!this._SockJS) throw new Error('load sockjs-client before sockjs-tornado.js');
    this._reconnect = options.reconnect === false ? null : merge(RECONNECT, options.reconnect || {});
    this.token = '';
    this.count = 0;
    this.positions = {};      // channel -> [epoch, offset]
    this._subs = {};          // channel -> [handler]
    this._pending = {};       // request id -> {resolve, reject}
    this._nextId = 1;
    this._outbox = [];        // sends made while not open
    this._attempt = 0;
    this._timer = null;
    this._closed = false;
    this.state = 'connecting';
    this.transport = null;
    this.sock = null;
    this._connect();
    // A page that goes away takes its state with it: say goodbye, so the
    // server does not keep the session for a client that cannot resume.
    var self = this;
    if (root.addEventListener) root.addEventListener('pagehide', function () { self.close(); });
  }
  SockJSTornado.prototype = Object.create(Emitter.prototype);
  SockJSTornado.prototype.constructor = SockJSTornado;

  function merge(a, b) {
    var out = {}, k;
    for (k in a) if (Object.prototype.hasOwnProperty.call(a, k)) out[k] = a[k];
    for (k in b) if (Object.prototype.hasOwnProperty.call(b, k)) out[k] = b[k];
    return out;
  }

  SockJSTornado.prototype._setState = function (state) {
    if (this.state !== state) {
      this.state = state;
      this.emit('state', state);
    }
  };

  SockJSTornado.prototype._connectUrl = function () {
    var q = '_r=' + encodeURIComponent(this.token);
    if (this.token) {
      q += '&_p=' + this.count;
      var positions = JSON.stringify(this.positions);
      if (positions !== '{}' && positions.length < 4000) q += '&_c=' + encodeURIComponent(positions);
    }
    return this.url + (this.url.indexOf('?') >= 0 ? '&' : '?') + q;
  };

  SockJSTornado.prototype._connect = function () {
    var self = this;
    var sockOptions = merge(this.options, {});
    delete sockOptions.reconnect;
    delete sockOptions.SockJS;
    var sock = this.sock = new this._SockJS(this._connectUrl(), null, sockOptions);
    var welcomed = false;
    sock.onopen = function () { self.transport = sock.transport; };
    sock.onmessage = function (e) {
      if (sock !== self.sock) return;
      var data = e.data;
      var kind = data && typeof data === 'object' ? data.$sockjs : undefined;
      if (kind === 'welcome') {
        welcomed = true;
        self._welcome(data);
        return;
      }
      if (kind === 'reply') {
        self._reply(data);
        return;
      }
      self.count++;
      if (kind === 'pub') {
        if (data.o !== undefined) self.positions[data.c] = [data.e, data.o];
        var inner = data.d && typeof data.d === 'object' ? data.d.$sockjs : undefined;
        if (inner === 'join' || inner === 'leave') {
          // presence_events: someone subscribed to or left the channel
          self.emit(inner, data.c, data.d.id, data.d.info);
          return;
        }
        self.emit('publication', data.c, data.d, data);
        var handlers = (self._subs[data.c] || []).slice();
        for (var i = 0; i < handlers.length; i++) {
          try { handlers[i](data.d, data); } catch (err) { setTimeout(function () { throw err; }); }
        }
        return;
      }
      self.emit('message', data);
    };
    sock.onclose = function (e) {
      if (sock !== self.sock) return;
      self.sock = null;
      self._failPending('disconnected');
      var app = e.code >= APP_CLOSE_MIN && e.code <= APP_CLOSE_MAX;
      if (self._closed || app || !self._reconnect) {
        self._closed = true;
        self._setState('closed');
        self.emit('close', { code: e.code, reason: e.reason });
        return;
      }
      if (welcomed) self._attempt = 0;
      self._scheduleReconnect(e.code, e.reason);
    };
  };

  SockJSTornado.prototype._scheduleReconnect = function (code, reason) {
    var self = this;
    var r = this._reconnect;
    var base = Math.min(r.max, r.initial * Math.pow(r.factor, this._attempt));
    var delay = Math.round(base * (1 - r.jitter * Math.random()));
    this._attempt++;
    this._setState('reconnecting');
    this.emit('reconnecting', { attempt: this._attempt, delay: delay, code: code, reason: reason });
    this._timer = setTimeout(function () {
      self._timer = null;
      if (!self._closed) self._connect();
    }, delay);
  };

  SockJSTornado.prototype._welcome = function (w) {
    var channel;
    this.token = w.t;
    if (w.r !== 'resumed') this.count = 0;
    this._setState('open');
    if (w.r === 'resumed') {
      this.emit('resumed');
    } else if (w.r === 'restored') {
      this.emit('restored', { lost: w.lost || [] });
    } else {
      if (w.f) this.emit('recovery_failed', w.f);
      // A fresh server connection: subscribe again, from where we were.
      for (channel in this._subs) {
        if (Object.prototype.hasOwnProperty.call(this._subs, channel)) {
          this._sendSub(channel).catch(function () { /* retried on the next connection */ });
        }
      }
    }
    for (var i = 0; w.lost && i < w.lost.length; i++) this.emit('lost', w.lost[i]);
    var outbox = this._outbox;
    this._outbox = [];
    for (var j = 0; j < outbox.length; j++) this.sock.send(outbox[j]);
    this.emit('open', { recovered: w.r || null, failed: w.f || null });
  };

  SockJSTornado.prototype._reply = function (r) {
    var p = this._pending[r.id];
    if (!p) return;
    delete this._pending[r.id];
    if (r.ok) p.resolve(r.result !== undefined ? r.result : r);
    else p.reject(new Error(r.error || 'refused'));
  };

  SockJSTornado.prototype._failPending = function (why) {
    var pending = this._pending;
    this._pending = {};
    for (var id in pending) {
      if (Object.prototype.hasOwnProperty.call(pending, id)) pending[id].reject(new Error(why));
    }
  };

  SockJSTornado.prototype._request = function (body) {
    var self = this;
    return new Promise(function (resolve, reject) {
      if (self.state !== 'open') { reject(new Error('not connected')); return; }
      body.id = self._nextId++;
      self._pending[body.id] = { resolve: resolve, reject: reject };
      self.sock.send(JSON.stringify(body));
    });
  };

  SockJSTornado.prototype._sendSub = function (channel) {
    var body = { $sockjs: 'sub', c: channel };
    if (this.positions[channel]) body.since = this.positions[channel];
    var self = this;
    return this._request(body).then(function (r) {
      if (r && r.lost) self.emit('lost', channel);
      return r;
    });
  };

  /** Send a message to the server's on_message (queued while away). */
  SockJSTornado.prototype.send = function (data) {
    if (this._closed) throw new Error('closed');
    if (this.state === 'open' && this.sock) this.sock.send(data);
    else this._outbox.push(data);
  };

  /** Receive the channel's publications: handler(data, publication).
   *  Returns {ready: Promise, unsubscribe()}. Kept across reconnects. */
  SockJSTornado.prototype.subscribe = function (channel, handler) {
    var self = this;
    var first = !this._subs[channel];
    (this._subs[channel] = this._subs[channel] || []).push(handler);
    var ready = first && this.state === 'open' ? this._sendSub(channel) : Promise.resolve();
    return {
      ready: ready,
      unsubscribe: function () {
        var list = self._subs[channel] || [];
        var i = list.indexOf(handler);
        if (i >= 0) list.splice(i, 1);
        if (!list.length) {
          delete self._subs[channel];
          delete self.positions[channel];
          if (self.state === 'open') self._request({ $sockjs: 'unsub', c: channel }).catch(function () {});
        }
      }
    };
  };

  /** Publish to a channel (the server's can_publish decides). */
  SockJSTornado.prototype.publish = function (channel, data) {
    return this._request({ $sockjs: 'pub', c: channel, d: data });
  };

  /** Promise of {client_id: info} for the channel's subscribers. */
  SockJSTornado.prototype.presence = function (channel) {
    return this._request({ $sockjs: 'presence', c: channel });
  };

  /** Promise of {e: epoch, o: offset, pubs: [{o, d, t}]} (latest `limit`). */
  SockJSTornado.prototype.history = function (channel, options) {
    var body = { $sockjs: 'history', c: channel };
    if (options && options.limit) body.limit = options.limit;
    return this._request(body);
  };

  /** Close for good (the server forgets the connection at once). */
  SockJSTornado.prototype.close = function () {
    if (this._closed) return;
    this._closed = true;
    if (this._timer) { clearTimeout(this._timer); this._timer = null; }
    var sock = this.sock;
    if (sock && this.state === 'open') {
      try { sock.send(JSON.stringify({ $sockjs: 'bye' })); } catch (e) { /* closing anyway */ }
    }
    if (sock) {
      sock.close(1000, 'Normal closure');
    } else {
      this._setState('closed');
      this.emit('close', { code: 1000, reason: 'Normal closure' });
    }
  };

  root.SockJSTornado = SockJSTornado;
  if (typeof module === 'object' && module.exports) module.exports = SockJSTornado;
}(typeof window !== 'undefined' ? window : this));
