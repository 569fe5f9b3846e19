// The gRPC channel settings of every client the project ships (cxctl,
// metrics-service's feed consumers): a service config that retries only
// UNAVAILABLE (writes carry their request_id or event_id, so a retry is
// safe), with backoff, and short reconnect backoff so a restarted server is
// found again quickly.
#ifndef CX_SHARED_CLIENT_H_
#define CX_SHARED_CLIENT_H_

#include <grpcpp/support/channel_arguments.h>

namespace cx::shared {

grpc::ChannelArguments ClientChannelArguments();

}  // namespace cx::shared

#endif  // CX_SHARED_CLIENT_H_
