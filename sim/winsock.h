// The Winsock part of the Win32 seam: loopback TCP and UDP sockets as the
// proactor uses them (WSASocketW, bind, listen, AcceptEx, ConnectEx,
// WSARecv, WSASend, WSARecvFrom, WSASendTo, shutdown, closesocket), with
// their Windows names and signatures.
//
// On Windows this is <winsock2.h>, <ws2tcpip.h> and <mswsock.h>; everywhere
// else every call lands in the virtual kernel (sim/socket.cc), which must be
// running. A SOCKET is a handle of the process's handle table, so it can be
// associated with a completion port:
//
//   SOCKET s = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0,
//                         WSA_FLAG_OVERLAPPED);
//   CreateIoCompletionPort(reinterpret_cast<HANDLE>(s), port, key, 0);
//
// Only the IPv4 loopback network exists: every address is 127.0.0.1 (or
// INADDR_ANY, which binds it too); ports are real.
#ifndef IOCPSIM_SIM_WINSOCK_H_
#define IOCPSIM_SIM_WINSOCK_H_
#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#else
#include "sim/win32.h"

using SOCKET = uintptr_t;
using INT = int;
using LPINT = int*;
inline constexpr SOCKET INVALID_SOCKET = ~SOCKET{0};
inline constexpr int SOCKET_ERROR = -1;

constexpr int AF_UNSPEC = 0;
constexpr int AF_INET = 2;
constexpr int SOCK_STREAM = 1;
constexpr int SOCK_DGRAM = 2;
constexpr int IPPROTO_TCP = 6;
constexpr int IPPROTO_UDP = 17;
constexpr DWORD WSA_FLAG_OVERLAPPED = 0x01;
constexpr int SOL_SOCKET = 0xffff;
constexpr int SO_LINGER = 0x0080;
constexpr int SO_ERROR = 0x1007;
constexpr int SO_UPDATE_ACCEPT_CONTEXT = 0x700B;
constexpr int SO_UPDATE_CONNECT_CONTEXT = 0x7010;
constexpr int SD_RECEIVE = 0;
constexpr int SD_SEND = 1;
constexpr int SD_BOTH = 2;
constexpr int SOMAXCONN = 0x7fffffff;
constexpr uint32_t INADDR_ANY = 0;
constexpr uint32_t INADDR_LOOPBACK = 0x7f000001;
constexpr DWORD SIO_GET_EXTENSION_FUNCTION_POINTER = 0xC8000006;

// Winsock errors (WSAGetLastError; the same per-thread value as
// GetLastError, MS:WSAGetLastError).
constexpr DWORD WSA_IO_PENDING = ERROR_IO_PENDING;
constexpr DWORD WSA_OPERATION_ABORTED = ERROR_OPERATION_ABORTED;
constexpr DWORD WSAEINTR = 10004;
constexpr DWORD WSAEFAULT = 10014;
constexpr DWORD WSAEINVAL = 10022;
constexpr DWORD WSAEWOULDBLOCK = 10035;
constexpr DWORD WSAENOTSOCK = 10038;
constexpr DWORD WSAEMSGSIZE = 10040;
constexpr DWORD WSAEPROTOTYPE = 10041;
constexpr DWORD WSAENOPROTOOPT = 10042;
constexpr DWORD WSAEOPNOTSUPP = 10045;
constexpr DWORD WSAEAFNOSUPPORT = 10047;
constexpr DWORD WSAEADDRINUSE = 10048;
constexpr DWORD WSAEADDRNOTAVAIL = 10049;
constexpr DWORD WSAECONNABORTED = 10053;
constexpr DWORD WSAEISCONN = 10056;
constexpr DWORD WSAESHUTDOWN = 10058;
constexpr DWORD WSAECONNREFUSED = 10061;
constexpr DWORD WSANOTINITIALISED = 10093;

struct in_addr {
  uint32_t s_addr;  // network byte order (a union S_un on Windows; s_addr names it)
};
struct sockaddr {
  uint16_t sa_family;
  char sa_data[14];
};
struct sockaddr_in {
  int16_t sin_family;
  uint16_t sin_port;  // network byte order
  in_addr sin_addr;
  char sin_zero[8];
};
struct linger {
  uint16_t l_onoff;   // u_short
  uint16_t l_linger;
};
struct WSABUF {
  ULONG len;
  char* buf;
};
using LPWSABUF = WSABUF*;
using LPWSAOVERLAPPED = OVERLAPPED*;
using LPWSAOVERLAPPED_COMPLETION_ROUTINE = void (*)(DWORD error, DWORD bytes, LPWSAOVERLAPPED ov,
                                                    DWORD flags);
struct WSADATA {
  WORD wVersion;
  WORD wHighVersion;
  char szDescription[257];
  char szSystemStatus[129];
};
struct GUID {
  uint32_t Data1;
  uint16_t Data2;
  uint16_t Data3;
  uint8_t Data4[8];
};
inline constexpr GUID WSAID_ACCEPTEX = {0xb5367df1, 0xcbac, 0x11cf,
                                        {0x95, 0xca, 0x00, 0x80, 0x5f, 0x48, 0xa1, 0x92}};
inline constexpr GUID WSAID_CONNECTEX = {0x25a207b9, 0xddf3, 0x4660,
                                         {0x8e, 0xe9, 0x76, 0xe5, 0x8c, 0x74, 0x06, 0x3e}};
using LPFN_ACCEPTEX = BOOL (*)(SOCKET listener, SOCKET accepted, PVOID buffer,
                               DWORD receive_length, DWORD local_address_length,
                               DWORD remote_address_length, LPDWORD received,
                               LPOVERLAPPED overlapped);
using LPFN_CONNECTEX = BOOL (*)(SOCKET s, const sockaddr* name, int name_length, PVOID send_buffer,
                                DWORD send_length, LPDWORD sent, LPOVERLAPPED overlapped);

constexpr uint16_t htons(uint16_t v) { return static_cast<uint16_t>((v << 8) | (v >> 8)); }
constexpr uint16_t ntohs(uint16_t v) { return htons(v); }
constexpr uint32_t htonl(uint32_t v) {
  return (v << 24) | ((v << 8) & 0xff0000u) | ((v >> 8) & 0xff00u) | (v >> 24);
}
constexpr uint32_t ntohl(uint32_t v) { return htonl(v); }

int WINAPI WSAStartup(WORD version, WSADATA* data);
int WINAPI WSACleanup();
int WINAPI WSAGetLastError();
void WINAPI WSASetLastError(int error);
SOCKET WINAPI WSASocketW(int af, int type, int protocol, void* protocol_info, unsigned group,
                         DWORD flags);
SOCKET WINAPI socket(int af, int type, int protocol);  // overlapped, as on Windows
int WINAPI bind(SOCKET s, const sockaddr* name, int name_length);
int WINAPI listen(SOCKET s, int backlog);
SOCKET WINAPI accept(SOCKET s, sockaddr* address, int* address_length);
int WINAPI connect(SOCKET s, const sockaddr* name, int name_length);
int WINAPI closesocket(SOCKET s);
int WINAPI shutdown(SOCKET s, int how);
int WINAPI setsockopt(SOCKET s, int level, int name, const char* value, int length);
int WINAPI getsockopt(SOCKET s, int level, int name, char* value, int* length);
int WINAPI getsockname(SOCKET s, sockaddr* name, int* name_length);
int WINAPI getpeername(SOCKET s, sockaddr* name, int* name_length);
int WINAPI WSAIoctl(SOCKET s, DWORD code, LPVOID in, DWORD in_length, LPVOID out,
                    DWORD out_length, LPDWORD returned, LPWSAOVERLAPPED overlapped,
                    LPWSAOVERLAPPED_COMPLETION_ROUTINE routine);
int WINAPI WSARecv(SOCKET s, LPWSABUF buffers, DWORD count, LPDWORD received, LPDWORD flags,
                   LPWSAOVERLAPPED overlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE routine);
int WINAPI WSASend(SOCKET s, LPWSABUF buffers, DWORD count, LPDWORD sent, DWORD flags,
                   LPWSAOVERLAPPED overlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE routine);
int WINAPI WSARecvFrom(SOCKET s, LPWSABUF buffers, DWORD count, LPDWORD received, LPDWORD flags,
                       sockaddr* from, LPINT from_length, LPWSAOVERLAPPED overlapped,
                       LPWSAOVERLAPPED_COMPLETION_ROUTINE routine);
int WINAPI WSASendTo(SOCKET s, LPWSABUF buffers, DWORD count, LPDWORD sent, DWORD flags,
                     const sockaddr* to, int to_length, LPWSAOVERLAPPED overlapped,
                     LPWSAOVERLAPPED_COMPLETION_ROUTINE routine);
// The Microsoft extensions, also reachable through WSAIoctl's
// SIO_GET_EXTENSION_FUNCTION_POINTER as on Windows.
BOOL WINAPI AcceptEx(SOCKET listener, SOCKET accepted, PVOID buffer, DWORD receive_length,
                     DWORD local_address_length, DWORD remote_address_length, LPDWORD received,
                     LPOVERLAPPED overlapped);
BOOL WINAPI ConnectEx(SOCKET s, const sockaddr* name, int name_length, PVOID send_buffer,
                      DWORD send_length, LPDWORD sent, LPOVERLAPPED overlapped);
#endif  // _WIN32
#endif  // IOCPSIM_SIM_WINSOCK_H_
