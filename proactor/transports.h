// Protocols and the proactor's pipe transports, as in CPython's
// Lib/asyncio/protocols.py, transports.py and proactor_events.py
// (_ProactorBasePipeTransport, _ProactorReadPipeTransport,
// _ProactorBaseWritePipeTransport, _ProactorWritePipeTransport,
// _ProactorDuplexPipeTransport, _ProactorSocketTransport,
// _ProactorDatagramTransport, and _FlowControlMixin).
//
//   auto t = PipeTransport::Make(loop, pipe, protocol, PipeTransport::Kind::kDuplex);
//   t->Write("hello");   // buffered while a write is in flight
//   t->Close();          // connection_lost(nullptr) once the buffer is out
//
// Departure: one class with a Kind instead of Python's mixins; each method
// keeps the name and the body of the class it comes from.
#ifndef IOCPSIM_PROACTOR_TRANSPORTS_H_
#define IOCPSIM_PROACTOR_TRANSPORTS_H_

#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "proactor/event_loop.h"
#include "proactor/origin.h"
#include "proactor/overlapped.h"
#include "proactor/windows_utils.h"

namespace iocpsim::proactor {

class PipeTransport;
using PipeTransportPtr = std::shared_ptr<PipeTransport>;

// asyncio.Protocol. The transport passed to ConnectionMade is the one that
// calls the other methods; a protocol that keeps it should drop it in
// ConnectionLost (or hold it weakly).
class Protocol {
 public:
  virtual ~Protocol() = default;
  virtual void ConnectionMade(const PipeTransportPtr& transport) {}
  virtual void DataReceived(const std::string& data) {}
  // True keeps the transport open (half-closed); false closes it.
  virtual bool EofReceived() { return false; }
  virtual void ConnectionLost(std::exception_ptr exc) {}
  virtual void PauseWriting() {}
  virtual void ResumeWriting() {}
};
using ProtocolPtr = std::shared_ptr<Protocol>;

// asyncio.DatagramProtocol: connection_made and connection_lost as a
// Protocol's, then datagrams (with the sender's port) and the errors a
// receive or a send reported (an ICMP port unreachable, ...).
class DatagramProtocol : public Protocol {
 public:
  virtual void DatagramReceived(const std::string& data, uint16_t from_port) {}
  virtual void ErrorReceived(std::exception_ptr exc) {}
};

class PipeTransport : public std::enable_shared_from_this<PipeTransport>, public Collectable {
 public:
  // kSocket: _ProactorSocketTransport, a duplex transport over a Socket
  // that can write EOF (shutdown(SD_SEND)). kDatagram:
  // _ProactorDatagramTransport over a UDP Socket, with a DatagramProtocol
  // (SendTo, not Write).
  enum class Kind { kRead, kWrite, kDuplex, kSocket, kDatagram };
  // LOG_THRESHOLD_FOR_CONNLOST_WRITES
  static constexpr int kLogThresholdForConnLostWrites = 5;
  static constexpr size_t kReadBufferSize = 65536;
  // _ProactorDatagramTransport.max_size
  static constexpr DWORD kMaxDatagramSize = 256 * 1024;

  // Creates the transport and schedules connection_made (then `waiter`,
  // if any); a read or duplex transport starts reading, a write transport
  // watches for the reader closing.
  static PipeTransportPtr Make(EventLoop& loop, PipeHandlePtr pipe, ProtocolPtr protocol, Kind kind,
                               FuturePtr<Void> waiter = nullptr,
                               std::map<std::string, std::string> extra = {});
  // _make_datagram_transport: `address` is the connected peer's port, 0
  // for an unconnected socket. The protocol must be a DatagramProtocol.
  static PipeTransportPtr MakeDatagram(EventLoop& loop, PipeHandlePtr sock,
                                       std::shared_ptr<DatagramProtocol> protocol,
                                       uint16_t address = 0, FuturePtr<Void> waiter = nullptr,
                                       std::map<std::string, std::string> extra = {});
  ~PipeTransport() override;  // ResourceWarning "unclosed transport"
  // __del__ and the cycle breaking of a collection (see Collectable).
  void Collect() override;
  PipeTransport(const PipeTransport&) = delete;
  PipeTransport& operator=(const PipeTransport&) = delete;

  // BaseTransport
  void Close();
  bool IsClosing() const { return closing_; }
  const ProtocolPtr& protocol() const { return protocol_; }
  // A datagram transport's protocol must stay a DatagramProtocol.
  void SetProtocol(ProtocolPtr p);
  std::string GetExtraInfo(const std::string& name) const;
  // ReadTransport
  bool IsReading() const { return !paused_ && !closing_; }
  void PauseReading();
  void ResumeReading();
  // WriteTransport
  void Write(const std::string& data);
  bool CanWriteEof() const { return kind_ == Kind::kWrite || kind_ == Kind::kSocket; }
  // Write pipes: close(); sockets: shutdown(SD_SEND) once the buffer is
  // out; duplex pipes: NotImplementedError.
  void WriteEof();
  void Abort() { ForceClose(nullptr); }
  size_t GetWriteBufferSize() const;
  void SetWriteBufferLimits(std::optional<size_t> high = std::nullopt,
                            std::optional<size_t> low = std::nullopt);

  // DatagramTransport.sendto(data, addr): `port` 0 is None (the connected
  // peer). Raises std::invalid_argument for another port on a connected
  // transport, or no port on an unconnected one.
  void SendTo(const std::string& data, uint16_t port = 0);

  Kind kind() const { return kind_; }
  // For checks: a receive is in flight (_read_fut is not None).
  bool read_pending() const { return read_fut_ != nullptr; }
  PipeHandle* pipe() const { return sock_.get(); }
  std::string Describe() const;

 private:
  PipeTransport(EventLoop& loop, PipeHandlePtr pipe, ProtocolPtr protocol, Kind kind,
                std::map<std::string, std::string> extra);
  void Start(FuturePtr<Void> waiter);

  void FatalError(std::exception_ptr exc, const std::string& message);
  void ForceClose(std::exception_ptr exc);
  void CallConnectionLost(std::exception_ptr exc);
  // _ProactorReadPipeTransport
  void LoopReading(std::shared_ptr<FutureBase> fut);
  void DataReceived(std::string data, int64_t length);
  void EofReceived();
  // _ProactorBaseWritePipeTransport
  void LoopWriting(FuturePtr<DWORD> f, std::optional<std::string> data);
  // _ProactorWritePipeTransport
  void PipeClosed(FuturePtr<std::string> fut);
  // _ProactorDatagramTransport
  void LoopDatagramReading(std::shared_ptr<FutureBase> fut);
  void LoopDatagramWriting(FuturePtr<DWORD> fut);
  DatagramProtocol& datagram_protocol() const {
    return static_cast<DatagramProtocol&>(*protocol_);
  }
  // _FlowControlMixin
  void MaybePauseProtocol();
  void MaybeResumeProtocol();

  EventLoop& loop_;
  PipeHandlePtr sock_;
  ProtocolPtr protocol_;
  Kind kind_;
  std::map<std::string, std::string> extra_;
  Origin origin_;
  std::optional<std::string> buffer_;       // None or a bytearray
  std::shared_ptr<FutureBase> read_fut_;    // recv_into, or recv(16) of a write pipe
  FuturePtr<DWORD> write_fut_;
  size_t pending_write_ = 0;
  int conn_lost_ = 0;
  bool closing_ = false;
  bool called_connection_lost_ = false;
  bool eof_written_ = false;
  bool paused_ = true;  // until the first read is scheduled
  int64_t pending_data_length_ = -1;
  std::shared_ptr<ReadBuffer> data_;  // the read buffer, shared with the Overlapped
  bool protocol_paused_ = false;
  // Quirk bpo-33694: the read future pause_reading() cancelled, and that a
  // resume must start reading again.
  std::shared_ptr<FutureBase> cancelled_on_pause_;
  bool reschedule_on_resume_ = false;
  // _ProactorDatagramTransport: the peer's port when connected (_address),
  // the queued (data, port) pairs (_buffer, a deque) and their size.
  uint16_t address_ = 0;
  std::deque<std::pair<std::string, uint16_t>> datagrams_;
  size_t datagram_bytes_ = 0;
  bool datagrams_dropped_ = false;  // _force_close() set _buffer to None
  size_t high_water_ = 64 * 1024;
  size_t low_water_ = 16 * 1024;
};

}  // namespace iocpsim::proactor

#endif  // IOCPSIM_PROACTOR_TRANSPORTS_H_
