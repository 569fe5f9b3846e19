#include "feedback-service/feedback_server.h"

#include "feedback-service/sql_feedback_repository.h"

namespace cx::feedback {

std::vector<shared::OptionSpec> FeedbackServiceOptionSpecs() {
  return shared::CommonOptions("0.0.0.0:50051", "sqlite:///data/feedback.db", "0.0.0.0:9464");
}

absl::Status FeedbackServer::Migrate(const shared::ServiceOptions& options) {
  return shared::MigrateOnly(options, OpenFeedbackRepository);
}

absl::StatusOr<std::unique_ptr<FeedbackServer>> FeedbackServer::Start(shared::ServiceOptions options) {
  std::unique_ptr<FeedbackServer> s(new FeedbackServer);
  if (auto st = s->host_.Open("feedback", options); !st.ok()) return st;
  auto repository = OpenFeedbackRepository(s->host_.pool());
  if (!repository.ok()) return repository.status();
  s->repository_ = *repository;
  auto repo = s->repository_;
  s->host_.MakeHub([repo](const std::optional<std::string>& tenant, int64_t after, int limit) {
    return repo->ListChanges(tenant, after, limit);
  });

  FeedbackManagerOptions manager_options;
  manager_options.commit = s->host_.CommitOptions();
  manager_options.page_token_key = options.page_token_key;
  manager_options.on_commit = s->host_.OnCommit();
  manager_options.observe_batch = s->host_.ObserveBatch();
  auto rules = std::make_shared<TenantRules>(s->repository_, manager_options.clock);
  FollowUpManagerOptions follow_up_options;
  follow_up_options.page_token_key = options.page_token_key;
  follow_up_options.on_commit = manager_options.on_commit;
  s->manager_ = std::make_shared<FeedbackManager>(s->repository_, rules, std::move(manager_options));
  auto follow_ups = std::make_shared<FollowUpManager>(s->repository_, rules, std::move(follow_up_options));
  s->service_ = std::make_unique<FeedbackGrpcService>(s->manager_, follow_ups, s->host_.hub(), s->host_.env());
  if (auto st = s->host_.Serve(s->service_.get(), v1::FeedbackService::service_full_name(), [repo] { return repo->Ping(); });
      !st.ok()) {
    return st;
  }
  return s;
}

void FeedbackServer::Shutdown() {
  host_.Drain();
  if (manager_) manager_->Stop();
  host_.StopHub();
}

FeedbackServer::~FeedbackServer() { Shutdown(); }

}  // namespace cx::feedback
