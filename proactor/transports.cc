#include "proactor/transports.h"

#include <stdexcept>
#include <utility>

#include "proactor/iocp_proactor.h"

namespace iocpsim::proactor {

namespace {

template <class E>
bool Is(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace

PipeTransport::PipeTransport(EventLoop& loop, PipeHandlePtr pipe, ProtocolPtr protocol, Kind kind,
                             std::map<std::string, std::string> extra)
    : loop_(loop),
      sock_(std::move(pipe)),
      protocol_(std::move(protocol)),
      kind_(kind),
      extra_(std::move(extra)),
      origin_(Origin::Here(loop)) {}

PipeTransportPtr PipeTransport::Make(EventLoop& loop, PipeHandlePtr pipe, ProtocolPtr protocol,
                                     Kind kind, FuturePtr<Void> waiter,
                                     std::map<std::string, std::string> extra) {
  PipeTransportPtr t(
      new PipeTransport(loop, std::move(pipe), std::move(protocol), kind, std::move(extra)));
  loop.AddResource(t);
  t->Start(std::move(waiter));
  return t;
}

PipeTransportPtr PipeTransport::MakeDatagram(EventLoop& loop, PipeHandlePtr sock,
                                             std::shared_ptr<DatagramProtocol> protocol,
                                             uint16_t address, FuturePtr<Void> waiter,
                                             std::map<std::string, std::string> extra) {
  PipeTransportPtr t(new PipeTransport(loop, std::move(sock), std::move(protocol),
                                       Kind::kDatagram, std::move(extra)));
  t->address_ = address;
  loop.AddResource(t);
  t->Start(std::move(waiter));
  return t;
}

void PipeTransport::SetProtocol(ProtocolPtr p) {
  if (kind_ == Kind::kDatagram && dynamic_cast<DatagramProtocol*>(p.get()) == nullptr) {
    throw std::invalid_argument("a datagram transport needs a DatagramProtocol");
  }
  protocol_ = std::move(p);
}

void PipeTransport::Start(FuturePtr<Void> waiter) {
  // _ProactorBasePipeTransport.__init__
  PipeTransportPtr self = shared_from_this();
  loop_.CallSoon([self, p = protocol_] { p->ConnectionMade(self); });
  if (waiter != nullptr) {
    // Only wake up the waiter once connection_made() has been called.
    loop_.CallSoon([waiter] {
      if (!waiter->done()) waiter->SetResult(Void{});
    });
  }
  if (kind_ == Kind::kRead || kind_ == Kind::kDuplex || kind_ == Kind::kSocket) {
    // _ProactorReadPipeTransport.__init__
    data_ = std::make_shared<ReadBuffer>(kReadBufferSize);
    loop_.CallSoon(self, [](auto& s) { s.LoopReading(nullptr); });
    paused_ = false;
  }
  if (kind_ == Kind::kDatagram) {
    // _ProactorDatagramTransport.__init__
    loop_.CallSoon(self, [](auto& s) { s.LoopDatagramReading(nullptr); });
  }
  if (kind_ == Kind::kWrite) {
    // _ProactorWritePipeTransport.__init__: the reader closing shows up as
    // the end of a read on the write end.
    FuturePtr<std::string> f = loop_.proactor().Recv(sock_, 16);
    read_fut_ = f;
    f->AddDoneCallback(self, [](auto& s, FuturePtr<std::string> f) { s.PipeClosed(f); });
  }
}

PipeTransport::~PipeTransport() { Collect(); }

void PipeTransport::Collect() {
  if (sock_ != nullptr) {
    loop_.CallExceptionHandler(
        {"unclosed transport " + Describe(), nullptr, {{"origin", origin_.Format()}}});
    sock_->Close();
    sock_ = nullptr;
  }
  protocol_.reset();
  read_fut_.reset();
  write_fut_.reset();
}

std::string PipeTransport::Describe() const {
  const char* k = kind_ == Kind::kRead    ? "ReadPipeTransport"
                  : kind_ == Kind::kWrite ? "WritePipeTransport"
                  : kind_ == Kind::kSocket ? "SocketTransport"
                  : kind_ == Kind::kDatagram ? "DatagramTransport"
                                             : "DuplexPipeTransport";
  std::string s = std::string("<_Proactor") + k;
  if (sock_ == nullptr) return s + " closed>";
  if (closing_) s += " closing";
  s += " " + sock_->Describe();
  if (read_fut_ != nullptr) s += " read=" + read_fut_->Describe();
  if (write_fut_ != nullptr) s += " write=" + write_fut_->Describe();
  if (buffer_ && !buffer_->empty()) s += " write_bufsize=" + std::to_string(buffer_->size());
  if (!datagrams_.empty()) s += " write_bufsize=" + std::to_string(datagrams_.size());
  return s + ">";
}

std::string PipeTransport::GetExtraInfo(const std::string& name) const {
  auto it = extra_.find(name);
  return it == extra_.end() ? "" : it->second;
}

// ------------------------------------------------- _ProactorBasePipeTransport

void PipeTransport::Close() {
  if (closing_) return;
  closing_ = true;
  bool idle = (!buffer_ || buffer_->empty()) && datagrams_.empty() && write_fut_ == nullptr;
  // gh-156920: a datagram transport with a write in flight leaves
  // _conn_lost alone, so that _loop_writing() flushes the buffer and then
  // calls connection_lost() (GH-156921, as its description and review
  // state it). Before, close() counted the connection as lost here, and
  // _loop_writing() returned at its first line: connection_lost() was
  // never called and the socket never closed.
  if (kind_ != Kind::kDatagram || idle || loop_.profile().Has(Quirk::kGh156920)) ++conn_lost_;
  if (idle) {
    PipeTransportPtr self = shared_from_this();
    loop_.CallSoon(self, [](auto& s) { s.CallConnectionLost(nullptr); });
  }
  if (read_fut_ != nullptr) {
    read_fut_->Cancel();
    read_fut_ = nullptr;
  }
}

void PipeTransport::FatalError(std::exception_ptr exc, const std::string& message) {
  // OSErrors are only logged, and only in debug mode (logger.debug); anything
  // else is reported.
  if (!Is<OSError>(exc)) {
    loop_.CallExceptionHandler({message, exc, {{"transport", Describe()}}});
  } else if (loop_.debug()) {
    loop_.CallExceptionHandler({message, exc, {{"transport", Describe()}, {"level", "debug"}}});
  }
  ForceClose(exc);
}

void PipeTransport::ForceClose(std::exception_ptr exc) {
  if (closing_ && called_connection_lost_) return;
  closing_ = true;
  ++conn_lost_;
  if (write_fut_ != nullptr) {
    write_fut_->Cancel();
    write_fut_ = nullptr;
  }
  if (read_fut_ != nullptr) {
    read_fut_->Cancel();
    read_fut_ = nullptr;
  }
  pending_write_ = 0;
  buffer_.reset();
  if (kind_ == Kind::kDatagram) {
    datagrams_.clear();
    datagrams_dropped_ = true;
  }
  PipeTransportPtr self = shared_from_this();
  loop_.CallSoon([self, exc] { self->CallConnectionLost(exc); });
}

void PipeTransport::CallConnectionLost(std::exception_ptr exc) {
  if (called_connection_lost_) return;
  struct Finally {
    PipeTransport* t;
    ~Finally() {
      // "If there is a pending overlapped read on the other end then it may
      // fail with ERROR_NETNAME_DELETED if we just close our end. First
      // calling shutdown() seems to cure it."
      // (A datagram socket has shutdown() too; on an unconnected one it
      // fails, which Python would raise here and this ignores.)
      bool has_shutdown = t->kind_ == Kind::kSocket || t->kind_ == Kind::kDatagram;
      if (has_shutdown && t->sock_ != nullptr && !t->sock_->closed()) {
        shutdown(reinterpret_cast<SOCKET>(t->sock_->handle()), SD_BOTH);
      }
      if (t->sock_ != nullptr) t->sock_->Close();
      t->sock_ = nullptr;
      t->called_connection_lost_ = true;
    }
  } finally{this};
  protocol_->ConnectionLost(exc);
}

size_t PipeTransport::GetWriteBufferSize() const {
  if (kind_ == Kind::kDatagram) return datagram_bytes_;
  return pending_write_ + (buffer_ ? buffer_->size() : 0);
}

// ------------------------------------------------- _ProactorReadPipeTransport

void PipeTransport::PauseReading() {
  if (closing_ || paused_) return;
  paused_ = true;
  // bpo-33694: the in-flight read is not cancelled (cancelling it could
  // drop data that already arrived).
  if (loop_.profile().Has(Quirk::kBpo33694) && read_fut_ != nullptr && !read_fut_->done()) {
    // Before 79790bc3: "an ugly hack to cancel the current read future"; if
    // the receive had completed, CancelIoEx fails with ERROR_NOT_FOUND,
    // Overlapped.cancel() ignores it, and _poll drops the packet's bytes
    // because the future is done.
    cancelled_on_pause_ = read_fut_;
    read_fut_->Cancel();
    read_fut_ = nullptr;
    reschedule_on_resume_ = true;
  }
}

void PipeTransport::ResumeReading() {
  if (closing_ || !paused_) return;
  paused_ = false;
  PipeTransportPtr self = shared_from_this();
  if (loop_.profile().Has(Quirk::kBpo33694)) {
    if (reschedule_on_resume_) {
      loop_.CallSoon(self, [](auto& s) { s.LoopReading(nullptr); });
      reschedule_on_resume_ = false;
    }
    return;
  }
  if (read_fut_ == nullptr) loop_.CallSoon(self, [](auto& s) { s.LoopReading(nullptr); });
  int64_t length = std::exchange(pending_data_length_, -1);
  if (length > -1) {
    // After _loop_reading: the protocol may pause reading again.
    std::string data = std::string(data_->data.get(), static_cast<size_t>(length));
    loop_.CallSoon([self, data, length] { self->DataReceived(data, length); });
  }
}

void PipeTransport::EofReceived() {
  bool keep_open;
  try {
    keep_open = protocol_->EofReceived();
  } catch (const std::exception&) {
    FatalError(std::current_exception(), "Fatal error: protocol.eof_received() call failed.");
    return;
  }
  if (!keep_open) Close();
}

void PipeTransport::DataReceived(std::string data, int64_t length) {
  if (paused_) {
    // No protocol method while paused: delivered on resume_reading().
    pending_data_length_ = length;
    return;
  }
  if (length == 0) {
    EofReceived();
    return;
  }
  protocol_->DataReceived(data);
}

void PipeTransport::LoopReading(std::shared_ptr<FutureBase> fut) {
  // Quirk bpo-33694: the callback of the future pause_reading() cancelled
  // exits at once ("__asyncio_cancelled_on_pause__").
  if (fut != nullptr && fut == cancelled_on_pause_) {
    cancelled_on_pause_ = nullptr;
    return;
  }
  int64_t length = -1;
  std::string data;
  PipeTransportPtr self = shared_from_this();
  try {
    [&] {
      if (fut != nullptr) {
        // assert self._read_fut is fut or (self._read_fut is None and self._closing)
        read_fut_ = nullptr;
        if (fut->done()) {
          length = std::static_pointer_cast<Future<DWORD>>(fut)->Result();
          if (length == 0) return;  // end of file: no new read
          data = std::string(data_->data.get(), static_cast<size_t>(length));
        } else {
          // The future will be replaced by the next recv_into.
          fut->Cancel();
        }
      }
      // "since close() has been called we ignore any read data" -- but, as
      // in CPython, data already read is still delivered below.
      if (closing_) return;
      if (!paused_) {
        FuturePtr<DWORD> f = loop_.proactor().RecvInto(sock_, data_);
        read_fut_ = f;
        f->AddDoneCallback(self, [](auto& s, FuturePtr<DWORD> f) { s.LoopReading(f); });
      }
    }();
  } catch (const ConnectionAbortedError&) {
    if (!closing_) FatalError(std::current_exception(), "Fatal read error on pipe transport");
  } catch (const ConnectionResetError&) {
    ForceClose(std::current_exception());
  } catch (const OSError&) {
    FatalError(std::current_exception(), "Fatal read error on pipe transport");
  } catch (const CancelledError&) {
    if (!closing_) throw;
  }
  // The `finally:` clause.
  if (length > -1) DataReceived(std::move(data), length);
}

// -------------------------------------------- _ProactorBaseWritePipeTransport

void PipeTransport::Write(const std::string& data) {
  if (kind_ == Kind::kRead) throw std::logic_error("write() on a read pipe transport");
  if (kind_ == Kind::kDatagram) throw std::logic_error("write() on a datagram transport");
  if (eof_written_) throw std::runtime_error("write_eof() already called");
  if (data.empty()) return;
  if (conn_lost_ > 0) {
    // "socket.send() raised exception." is logged past the threshold.
    ++conn_lost_;
    return;
  }
  // IDLE: write_fut_ and buffer_ empty; WRITING: write_fut_ set; BACKED
  // UP: write_fut_ set and data in buffer_. The data is always copied.
  if (write_fut_ == nullptr) {
    LoopWriting(nullptr, data);
  } else if (!buffer_ || buffer_->empty()) {
    buffer_ = data;
    MaybePauseProtocol();
  } else {
    buffer_->append(data);
    MaybePauseProtocol();
  }
}

void PipeTransport::LoopWriting(FuturePtr<DWORD> f, std::optional<std::string> data) {
  try {
    if (f != nullptr && write_fut_ == nullptr && closing_) {
      // Most likely _force_close() has been called and dropped write_fut_.
      return;
    }
    // assert f is self._write_fut
    write_fut_ = nullptr;
    pending_write_ = 0;
    if (f != nullptr) f->Result();
    if (!data) {
      data = std::move(buffer_);
      buffer_.reset();
    }
    if (!data || data->empty()) {
      if (closing_) {
        PipeTransportPtr self = shared_from_this();
        loop_.CallSoon(self, [](auto& s) { s.CallConnectionLost(nullptr); });
      }
      if (eof_written_ && kind_ == Kind::kSocket) {
        if (shutdown(reinterpret_cast<SOCKET>(sock_->fileno()), SD_SEND) != 0) {
          RaiseWindowsError(static_cast<DWORD>(WSAGetLastError()), "shutdown");
        }
      }
      // Last, as it may call back into write().
      MaybeResumeProtocol();
    } else {
      size_t n = data->size();
      write_fut_ = loop_.proactor().Send(sock_, std::move(*data));
      PipeTransportPtr self = shared_from_this();
      if (!write_fut_->done()) {
        pending_write_ = n;
        write_fut_->AddDoneCallback(
            self, [](auto& s, FuturePtr<DWORD> f) { s.LoopWriting(f, std::nullopt); });
        MaybePauseProtocol();
      } else {
        write_fut_->AddDoneCallback(
            self, [](auto& s, FuturePtr<DWORD> f) { s.LoopWriting(f, std::nullopt); });
      }
    }
  } catch (const ConnectionResetError&) {
    ForceClose(std::current_exception());
  } catch (const OSError&) {
    FatalError(std::current_exception(), "Fatal write error on pipe transport");
  }
}

void PipeTransport::WriteEof() {
  if (kind_ == Kind::kSocket) {
    // _ProactorSocketTransport.write_eof
    if (closing_ || eof_written_) return;
    eof_written_ = true;
    if (write_fut_ == nullptr &&
        shutdown(reinterpret_cast<SOCKET>(sock_->fileno()), SD_SEND) != 0) {
      RaiseWindowsError(static_cast<DWORD>(WSAGetLastError()), "shutdown");
    }
    return;
  }
  if (kind_ != Kind::kWrite) throw std::logic_error("NotImplementedError: write_eof()");
  Close();
}

// ---------------------------------------------- _ProactorWritePipeTransport

void PipeTransport::PipeClosed(FuturePtr<std::string> fut) {
  if (fut->cancelled()) return;  // the transport has been closed
  // assert fut.result() == b''
  fut->Result();
  if (closing_) return;
  read_fut_ = nullptr;
  if (write_fut_ != nullptr) {
    ForceClose(std::make_exception_ptr(BrokenPipeError(ERROR_BROKEN_PIPE, "BrokenPipeError")));
  } else {
    Close();
  }
}

// ------------------------------------------------ _ProactorDatagramTransport

void PipeTransport::SendTo(const std::string& data, uint16_t port) {
  if (kind_ != Kind::kDatagram) throw std::logic_error("sendto() on a stream transport");
  if (data.empty()) return;
  if (address_ != 0 && port != 0 && port != address_) {
    throw std::invalid_argument("Invalid address: must be None or ('127.0.0.1', " +
                                std::to_string(address_) + ")");
  }
  if (address_ == 0 && port == 0) throw std::invalid_argument("sendto() needs an address");
  if (conn_lost_ > 0 && address_ != 0) {
    // "socket.sendto() raised exception." is logged past the threshold.
    ++conn_lost_;
    return;
  }
  // After _force_close(), _buffer is None: an unconnected transport's
  // sendto() fails on the append, as CPython's does.
  if (datagrams_dropped_) {
    throw std::runtime_error("AttributeError: 'NoneType' object has no attribute 'append'");
  }
  datagrams_.emplace_back(data, port);
  datagram_bytes_ += data.size();
  if (write_fut_ == nullptr) LoopDatagramWriting(nullptr);  // else a write is in flight
  MaybePauseProtocol();
}

void PipeTransport::LoopDatagramWriting(FuturePtr<DWORD> fut) {
  PipeTransportPtr self = shared_from_this();
  try {
    if (conn_lost_ > 0) return;
    // assert fut is self._write_fut
    write_fut_ = nullptr;
    if (fut != nullptr) fut->Result();
    if (datagrams_.empty()) {
      if (closing_) {
        // gh-156920: the flushed close ends here (before GH-156921 this
        // line was out of reach once close() had been called).
        ++conn_lost_;
        loop_.CallSoon(self, [](auto& s) { s.CallConnectionLost(nullptr); });
      }
      return;
    }
    auto [data, port] = std::move(datagrams_.front());
    datagrams_.pop_front();
    datagram_bytes_ -= data.size();
    if (address_ != 0) {
      write_fut_ = loop_.proactor().Send(sock_, std::move(data));
    } else {
      write_fut_ = loop_.proactor().SendTo(std::static_pointer_cast<Socket>(sock_), std::move(data),
                                           port);
    }
  } catch (const OSError&) {
    datagram_protocol().ErrorReceived(std::current_exception());
    // gh-156698 (in GH-156921): start the write loop again, so that what
    // is buffered is not stranded and a paused protocol is resumed.
    if (!datagrams_.empty() && conn_lost_ == 0) {
      loop_.CallSoon(self, [](auto& s) { s.LoopDatagramWriting(nullptr); });
    }
    return;
  } catch (const std::exception&) {
    FatalError(std::current_exception(), "Fatal write error on datagram transport");
    return;
  }
  write_fut_->AddDoneCallback(self, [](auto& s, FuturePtr<DWORD> f) { s.LoopDatagramWriting(f); });
  MaybeResumeProtocol();
}

void PipeTransport::LoopDatagramReading(std::shared_ptr<FutureBase> fut) {
  std::string data;
  uint16_t from = 0;
  PipeTransportPtr self = shared_from_this();
  try {
    // After GH-156921 a closing transport may not have counted the
    // connection as lost yet (a write being flushed): reads stop at
    // _closing too. Before it, _closing implied _conn_lost.
    if (conn_lost_ > 0 || closing_) return;
    // assert self._read_fut is fut or (self._read_fut is None and self._closing)
    read_fut_ = nullptr;
    if (fut != nullptr) {
      if (address_ != 0) {
        data = std::static_pointer_cast<Future<std::string>>(fut)->Result();
        from = address_;
      } else {
        Datagram d = std::static_pointer_cast<Future<Datagram>>(fut)->Result();
        data = std::move(d.data);
        from = d.from_port;
      }
    }
    std::shared_ptr<FutureBase> f;
    if (address_ != 0) {
      f = loop_.proactor().Recv(sock_, kMaxDatagramSize);
      std::static_pointer_cast<Future<std::string>>(f)->AddDoneCallback(
          self, [](auto& s, FuturePtr<std::string> f) { s.LoopDatagramReading(f); });
    } else {
      f = loop_.proactor().RecvFrom(std::static_pointer_cast<Socket>(sock_), kMaxDatagramSize);
      std::static_pointer_cast<Future<Datagram>>(f)->AddDoneCallback(
          self, [](auto& s, FuturePtr<Datagram> f) { s.LoopDatagramReading(f); });
    }
    read_fut_ = f;
  } catch (const OSError&) {
    datagram_protocol().ErrorReceived(std::current_exception());
    // gh-127057: a receive error (WSARecvFrom failing at once with
    // WSAECONNRESET after an ICMP port unreachable) leaves no receive
    // pending. GH-156726 starts the read loop again; before it, the
    // transport never received another datagram.
    if (!loop_.profile().Has(Quirk::kGh127057) && !closing_ && conn_lost_ == 0) {
      loop_.CallSoon(self, [](auto& s) { s.LoopDatagramReading(nullptr); });
    }
  } catch (const CancelledError&) {
    if (!closing_) throw;
  }
  // The `finally:` clause.
  if (!data.empty()) datagram_protocol().DatagramReceived(data, from);
}

// ------------------------------------------------------ _FlowControlMixin

void PipeTransport::SetWriteBufferLimits(std::optional<size_t> high, std::optional<size_t> low) {
  if (!high) high = low ? 4 * *low : 64 * 1024;
  if (!low) low = *high / 4;
  if (*high < *low) throw std::invalid_argument("high must be >= low");
  high_water_ = *high;
  low_water_ = *low;
  MaybePauseProtocol();
}

void PipeTransport::MaybePauseProtocol() {
  if (GetWriteBufferSize() <= high_water_ || protocol_paused_) return;
  protocol_paused_ = true;
  try {
    protocol_->PauseWriting();
  } catch (const std::exception&) {
    loop_.CallExceptionHandler(
        {"protocol.pause_writing() failed", std::current_exception(), {{"transport", Describe()}}});
  }
}

void PipeTransport::MaybeResumeProtocol() {
  if (!protocol_paused_ || GetWriteBufferSize() > low_water_) return;
  protocol_paused_ = false;
  try {
    protocol_->ResumeWriting();
  } catch (const std::exception&) {
    loop_.CallExceptionHandler(
        {"protocol.resume_writing() failed", std::current_exception(), {{"transport", Describe()}}});
  }
}

}  // namespace iocpsim::proactor
