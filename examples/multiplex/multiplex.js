/*
 * SockJSMultiplex: many named channels over one SockJS connection, in the
 * websocket-multiplex wire format that sockjs.tornado.multiplex speaks:
 *
 *   sub,<topic>   msg,<topic>,<payload>   uns,<topic>
 *
 *   var mux = new SockJSMultiplex(new SockJS('/multiplex'));
 *   var ann = mux.channel('ann');
 *   ann.onopen = function () { ann.send('hi'); };
 *   ann.onmessage = function (e) { console.log(e.data); };
 *   ann.onclose = function () { ... };   // server closed it, or the socket ended
 *   ann.close();                         // unsubscribe
 *
 * A channel behaves like a small WebSocket: readyState, send, close,
 * onopen/onmessage/onclose. It opens when the SockJS connection is open
 * (at once if it already is). Topic names must not contain commas.
 */
(function (global) {
  'use strict';

  var CONNECTING = 0, OPEN = 1, CLOSED = 3;

  function Channel(mux, topic) {
    this.topic = topic;
    this.readyState = CONNECTING;
    this.onopen = this.onmessage = this.onclose = null;
    this._mux = mux;
  }
  Channel.prototype.send = function (data) {
    if (this.readyState !== OPEN) throw new Error('channel ' + this.topic + ' is not open');
    this._mux._sock.send('msg,' + this.topic + ',' + data);
  };
  Channel.prototype.close = function () {
    if (this.readyState === CLOSED) return;
    if (this._mux._sock.readyState === OPEN) this._mux._sock.send('uns,' + this.topic);
    this._closed({code: 1000, reason: 'Unsubscribed', wasClean: true});
  };
  Channel.prototype._opened = function () {
    this._mux._sock.send('sub,' + this.topic);
    this.readyState = OPEN;
    if (this.onopen) this.onopen({type: 'open'});
  };
  Channel.prototype._closed = function (event) {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    delete this._mux._channels[this.topic];
    if (this.onclose) this.onclose({type: 'close', code: event.code, reason: event.reason, wasClean: event.wasClean});
  };

  function SockJSMultiplex(sock) {
    var self = this;
    this._sock = sock;
    this._channels = {};
    // Listeners, not on* properties: the application keeps those.
    sock.addEventListener('open', function () {
      Object.keys(self._channels).forEach(function (t) { self._channels[t]._opened(); });
    });
    sock.addEventListener('message', function (e) {
      var data = String(e.data);
      var c1 = data.indexOf(','), c2 = data.indexOf(',', c1 + 1);
      if (c1 < 0) return;
      var op = data.slice(0, c1);
      var ch = self._channels[c2 < 0 ? data.slice(c1 + 1) : data.slice(c1 + 1, c2)];
      if (!ch) return;
      if (op === 'msg' && c2 >= 0) {
        if (ch.onmessage) ch.onmessage({type: 'message', data: data.slice(c2 + 1)});
      } else if (op === 'uns') {
        ch._closed({code: 3000, reason: 'Closed by server', wasClean: true});
      }
    });
    sock.addEventListener('close', function (e) {
      Object.keys(self._channels).forEach(function (t) { self._channels[t]._closed(e); });
    });
  }
  SockJSMultiplex.prototype.channel = function (topic) {
    if (String(topic).indexOf(',') >= 0) throw new Error('topic names cannot contain commas');
    var ch = this._channels[topic];
    if (ch) return ch;
    ch = this._channels[topic] = new Channel(this, topic);
    if (this._sock.readyState === OPEN) {
      var self = this;
      setTimeout(function () { if (self._channels[topic] === ch && ch.readyState === CONNECTING) ch._opened(); }, 0);
    }
    return ch;
  };
  SockJSMultiplex.CONNECTING = CONNECTING;
  SockJSMultiplex.OPEN = OPEN;
  SockJSMultiplex.CLOSED = CLOSED;

  global.SockJSMultiplex = SockJSMultiplex;
})(typeof window !== 'undefined' ? window : this);
