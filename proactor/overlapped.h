// One overlapped operation, as `_overlapped.Overlapped` in CPython's
// Modules/overlapped.c: it owns the OVERLAPPED (and the operation's
// buffer) for as long as it lives, knows whether the operation is still
// pending, cancels it with CancelIoEx, and reads its result with
// GetOverlappedResult.
//
//   auto ov = Overlapped::New(loop);
//   ov->ReadFile(pipe, 4096);      // throws BrokenPipeError at once if the
//                                  // writer is gone (no packet then)
//   ...                            // the packet is dequeued
//   std::string data = ov->ReadResult();
//
// Destroying it while the operation may still touch it is the bug class
// this project hunts: the destructor does what overlapped.c's dealloc does
// and reports "still has pending operation at deallocation" through the
// loop's exception handler.
#ifndef IOCPSIM_PROACTOR_OVERLAPPED_H_
#define IOCPSIM_PROACTOR_OVERLAPPED_H_

#include <cstdint>
#include <memory>
#include <string>

#include "sim/win32.h"
#include "sim/winsock.h"

namespace iocpsim::proactor {

class EventLoop;

// The buffer of ReadFileInto (the transport's bytearray): `size` bytes,
// left uninitialized. bytearray(n) zero-fills, but nothing reads a byte the
// kernel did not write, and zeroing 64 KiB per transport was a third of
// echo-server's instructions.
struct ReadBuffer {
  explicit ReadBuffer(size_t n) : data(new char[n]), size(n) {}
  std::unique_ptr<char[]> data;
  size_t size;
};

class Overlapped {
 public:
  enum class Type {
    kNone, kNotStarted, kRead, kReadInto, kWrite, kConnectNamedPipe, kWait,
    kWaitNamedPipeAndConnect,  // quirk bpo-23293: the old connect_pipe
    kWSARecv, kWSARecvInto, kWSASend, kAcceptEx, kConnectEx, kWSARecvFrom, kWSASendTo
  };

  explicit Overlapped(EventLoop& loop, HANDLE event = nullptr);
  ~Overlapped();
  // On the heap, from a per-thread pool where the last block freed is the
  // next one given out. Whether a new Overlapped gets the address of one
  // freed earlier in the run must depend on that run alone, not on what
  // earlier runs left in the heap: the proactor's cache and the kernel
  // both know an OVERLAPPED by its address, so address reuse decides what a
  // stray packet lands on. Under AddressSanitizer a free block is poisoned,
  // so the kernel touching a freed OVERLAPPED is a use-after-poison report.
  static std::shared_ptr<Overlapped> New(EventLoop& loop, HANDLE event = nullptr) {
    return std::shared_ptr<Overlapped>(new Overlapped(loop, event));
  }
  static void* operator new(size_t size);
  static void operator delete(void* p, size_t size);
  Overlapped(const Overlapped&) = delete;
  Overlapped& operator=(const Overlapped&) = delete;

  // The key of IocpProactor's cache, as ov.address in Python.
  uintptr_t address() const { return reinterpret_cast<uintptr_t>(&overlapped_); }
  OVERLAPPED* raw() { return &overlapped_; }
  HANDLE event() const { return overlapped_.hEvent; }
  DWORD error() const { return error_; }
  Type type() const { return type_; }
  // "ReadFile", "WriteFile", "ConnectNamedPipe", "wait", ...
  const char* TypeName() const;
  // Overlapped.pending: started, and the status block still says pending.
  bool pending() const;

  // Overlapped.cancel(): CancelIoEx unless already completed; ERROR_NOT_FOUND
  // (completed in between) is ignored; other failures raise OSError.
  void Cancel();
  // Overlapped.getresult(): the bytes transferred, or raises the
  // operation's error (ERROR_BROKEN_PIPE on a read is end of file: 0).
  DWORD GetResult(bool wait = false);
  // getresult() of a ReadFile: the bytes read.
  std::string ReadResult(bool wait = false);

  // Overlapped.ReadFile(): raises BrokenPipeError at once on a synchronous
  // ERROR_BROKEN_PIPE (marking the overlapped completed), OSError on any
  // other synchronous failure.
  void ReadFile(HANDLE handle, DWORD size);
  // Overlapped.ReadFileInto(): the buffer is shared, as the Py_buffer is
  // held by the Overlapped: it outlives whoever issued the read.
  void ReadFileInto(HANDLE handle, std::shared_ptr<ReadBuffer> buffer);
  void WriteFile(HANDLE handle, std::string data);
  // Overlapped.ConnectNamedPipe(): true if a client was already connected
  // (ERROR_PIPE_CONNECTED: no packet will come), false if pending.
  bool ConnectNamedPipe(HANDLE pipe);
  // Overlapped.WSARecv(), WSARecvInto(), WSASend(): ReadFile, ReadFileInto
  // and WriteFile on a socket, with the same synchronous errors (do_WSARecv,
  // do_WSASend).
  void WSARecv(SOCKET s, DWORD size);
  void WSARecvInto(SOCKET s, std::shared_ptr<ReadBuffer> buffer);
  void WSASend(SOCKET s, std::string data);
  // Overlapped.AcceptEx(listener, conn): the two addresses land in a buffer
  // this object keeps until it is freed.
  void AcceptEx(SOCKET listener, SOCKET conn);
  // Overlapped.ConnectEx(s, ('127.0.0.1', port)); `s` must be bound.
  void ConnectEx(SOCKET s, uint16_t port);
  // Overlapped.WSARecvFrom() and WSASendTo() (datagrams); from_port() is
  // the source of a received datagram.
  void WSARecvFrom(SOCKET s, DWORD size);
  void WSASendTo(SOCKET s, std::string data, uint16_t port);
  uint16_t from_port() const { return ntohs(from_.sin_port); }
  // Marks this overlapped as standing for a registered wait (its address
  // is the key RegisterWaitWithQueue posts).
  void MarkWait() { type_ = Type::kWait; }
  // Overlapped.WaitNamedPipeAndConnect() (quirk bpo-23293, before
  // 7ffa2c5f): a thread-pool work item loops WaitNamedPipe + CreateFile,
  // then posts (error, pipe handle as key, this address) to `iocp`.
  void WaitNamedPipeAndConnect(const std::string& address, HANDLE iocp);

 private:
  void Started(HANDLE handle, Type type);
  void MarkAsCompleted();
  void DeallocCheck();
  // The part of do_ReadFile / do_WSARecv after the call: synchronous errors.
  void FinishRead(BOOL ok, const char* call);
  // The part of do_WriteFile, do_WSASend, AcceptEx, ConnectEx, WSASendTo
  // after the call: anything but success or pending raises, and the
  // operation counts as not started.
  void FinishStart(BOOL ok, const char* call);
  void LeakBufferIfQuirk(const char* call);
  bool IsRead() const;
  EventLoop& loop_;
  OVERLAPPED overlapped_{};
  HANDLE handle_ = nullptr;
  Type type_ = Type::kNone;
  DWORD error_ = 0;
  std::string buffer_;         // WriteFile's copy
  // ReadFile's buffer, left uninitialized as CPython's
  // PyBytes_FromStringAndSize(NULL, size) is: only the bytes the kernel
  // wrote are read back (zeroing 64 KiB per read was a third of a run).
  std::unique_ptr<char[]> read_;
  DWORD read_size_ = 0;
  std::shared_ptr<ReadBuffer> into_;  // ReadFileInto's buffer, shared
  // AcceptEx's address buffer; WSARecvFrom's source address.
  std::unique_ptr<char[]> addresses_;
  sockaddr_in from_{};
  int from_length_ = sizeof(sockaddr_in);
};

}  // namespace iocpsim::proactor

#endif  // IOCPSIM_PROACTOR_OVERLAPPED_H_
