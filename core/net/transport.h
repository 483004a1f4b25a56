// Transport: a byte transformer under one connection, between its socket and the application
// (TLS, WebSocket, or TLS under WebSocket: TCP, TLS, WebSocket, MQTT). Shard-local: it lives
// in the connection and is called on its reactor's thread.
//
// The reactor still does all the socket I/O on its ring. Bytes read from the socket go
// through OnInbound before the application sees them (a handshake, if any, is answered there
// and completes before the first application byte is handed on); what the application wrote
// during a loop iteration goes through OnOutbound once, when the connection is flushed, so a
// transport makes one record or frame per flush, not one per MQTT packet. A connection
// without a transport keeps the zero-copy path: the application's output queue is what is
// sent.
//
// When a connection moves to another shard (Shard::HandOff), its transport moves with it, in
// the state it is in; the bytes that arrive while the socket is being released are passed
// through it first, so what the new shard receives is application bytes only.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "core/net/output_queue.h"

namespace ringmq::net {

class Transport {
 public:
  virtual ~Transport() = default;

  // kClose: close at once (nothing more is sent). kCloseAfterSend: send what is on *wire
  // (an error answer, a close frame), then close; further input is discarded.
  enum class Status : uint8_t { kOk, kClose, kCloseAfterSend };

  // Bytes read from the socket, in order. Appends to *app what the application is to see
  // (nothing while a handshake is on), and may queue bytes to send back (a handshake answer,
  // a pong) on *wire.
  virtual Status OnInbound(std::span<const uint8_t> in, std::string* app, OutputQueue* wire) = 0;
  // Everything the application wrote since the last flush is in *app: the transport moves it,
  // framed, to *wire (the bytes that go to the socket), leaving *app empty.
  virtual Status OnOutbound(OutputQueue* app, OutputQueue* wire) = 0;
  // The application closes the connection in an orderly way (CloseMode::kAfterFlush), after its
  // last output was framed: the last chance to queue bytes (a close frame). Not called when
  // the transport asked to close or the connection is closed at once.
  virtual void OnClosing(OutputQueue* wire) { (void)wire; }
  // Who the peer proved to be during the handshake, when the listener makes that the user
  // name (TLS client certificates); empty otherwise.
  virtual std::string_view PeerIdentity() const { return {}; }
};

}  // namespace ringmq::net
