// Loopback helpers for tests and cx-bench: a free port, and a plain HTTP GET
// for reading the Prometheus endpoint of a local service.
#ifndef CX_SHARED_LOCAL_NET_H_
#define CX_SHARED_LOCAL_NET_H_

#include <string>

namespace cx::shared {

// A 127.0.0.1 TCP port free at the time of the call.
int FreePort();

// A plain HTTP/1.0 GET to 127.0.0.1:port: the whole response, headers included ("" when the connection is refused).
std::string HttpGet(int port, const std::string& path);

}  // namespace cx::shared

#endif  // CX_SHARED_LOCAL_NET_H_
