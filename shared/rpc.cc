#include "shared/rpc.h"

namespace cx::shared {

absl::StatusOr<Principal> RpcEnv::Authorize(const grpc::CallbackServerContext* ctx,
                                            unsigned roles) const {
  const auto& metadata = ctx->client_metadata();
  auto it = metadata.find("authorization");
  absl::string_view value;
  if (it != metadata.end()) value = absl::string_view(it->second.data(), it->second.size());
  auto principal = tokens_->Current()->Authorize(value, roles);
  if (!principal.ok()) return principal;
  if (absl::Status admitted = limiter_->Admit(principal->tenant); !admitted.ok()) return admitted;
  return principal;
}

void RpcEnv::Record(const RpcSpec& spec, const absl::Status& status, absl::Time start) const {
  if (metrics_) {
    metrics_->RecordRpc(spec.method, static_cast<int>(status.code()),
                        absl::ToDoubleSeconds(absl::Now() - start));
  }
}

}  // namespace cx::shared
