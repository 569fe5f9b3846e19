// libFuzzer target: every feedback-service request through its validation
// and FeedbackManager / FollowUpManager over an in-memory SQLite store.
#include "feedback-service/feedback_manager.h"
#include "feedback-service/follow_up_manager.h"
#include "feedback-service/sql_feedback_repository.h"
#include "feedback-service/tenant_rules.h"
#include "fuzz/fuzz_util.h"
#include "shared/db/sql.h"

namespace cx::feedback {
namespace {

struct World {
  std::shared_ptr<FeedbackRepository> repository;
  std::shared_ptr<FeedbackManager> feedback;
  std::shared_ptr<FollowUpManager> follow_ups;
};

World& TheWorld() {
  static World* w = [] {
    auto* world = new World;
    auto pool = shared::db::OpenDatabase("sqlite::memory:", "", 1);
    if (!pool.ok()) __builtin_trap();
    auto repository = OpenFeedbackRepository(*pool);
    if (!repository.ok()) __builtin_trap();
    world->repository = *repository;
    FeedbackManagerOptions options;
    options.page_token_key = "fuzz";
    auto rules = std::make_shared<TenantRules>(world->repository, options.clock);
    FollowUpManagerOptions follow_up_options;
    follow_up_options.page_token_key = "fuzz";
    world->feedback = std::make_shared<FeedbackManager>(world->repository, rules, std::move(options));
    world->follow_ups = std::make_shared<FollowUpManager>(world->repository, rules, std::move(follow_up_options));
    return world;
  }();
  return *w;
}

}  // namespace
}  // namespace cx::feedback

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cx::feedback;
  namespace f = cx::fuzz;
  f::Input in;
  if (!f::Split(data, size, 16, &in)) return 0;
  World& w = TheWorld();
  const auto& p = in.who;
  switch (in.method) {
    case 0:
      f::Serve<v1::SubmitFeedbackRequest>(in.wire, [&](const auto& r) {
        return f::Wait<v1::SubmitFeedbackResponse>([&](auto done) { w.feedback->Submit(p, r, std::move(done)); });
      });
      break;
    case 1:
      f::Serve<v1::BatchSubmitFeedbackRequest>(in.wire, [&](const auto& r) {
        return f::Wait<v1::BatchSubmitFeedbackResponse>(
            [&](auto done) { w.feedback->BatchSubmit(p, r, std::move(done)); });
      });
      break;
    case 2: f::Serve<v1::GetFeedbackRequest>(in.wire, [&](const auto& r) { return w.feedback->Get(p, r); }); break;
    case 3: f::Serve<v1::ListFeedbackRequest>(in.wire, [&](const auto& r) { return w.feedback->List(p, r); }); break;
    case 4:
      f::Serve<v1::ListChangesRequest>(in.wire, [&](const auto& r) { return w.feedback->ListChanges(p, r); });
      break;
    case 5:
      f::Serve<v1::WatchChangesRequest>(in.wire, [&](const auto& r) { return w.feedback->WatchScope(p, r); });
      break;
    case 6:
      f::Serve<v1::SetTopicRulesRequest>(in.wire, [&](const auto& r) { return w.follow_ups->SetTopicRules(p, r); });
      break;
    case 7:
      f::Serve<v1::SetFollowUpRulesRequest>(in.wire,
                                            [&](const auto& r) { return w.follow_ups->SetFollowUpRules(p, r); });
      break;
    case 8: f::Serve<v1::GetFollowUpRequest>(in.wire, [&](const auto& r) { return w.follow_ups->Get(p, r); }); break;
    case 9:
      f::Serve<v1::ListFollowUpsRequest>(in.wire, [&](const auto& r) { return w.follow_ups->List(p, r); });
      break;
    case 10:
      f::Serve<v1::UpdateFollowUpRequest>(in.wire, [&](const auto& r) { return w.follow_ups->Update(p, r); });
      break;
    case 11:
      f::Serve<v1::GetFollowUpStatsRequest>(in.wire, [&](const auto& r) { return w.follow_ups->Stats(p, r); });
      break;
    case 12:
      f::Serve<v1::GetTopicRulesRequest>(in.wire, [&](const auto& r) { return w.follow_ups->GetTopicRules(p, r); });
      break;
    case 13: f::ImportOne<v1::ImportFeedbackRequest>(in.wire, [&] { return w.feedback->StartImport(p); }); break;
    case 14: f::Serve<v1::EraseCustomerRequest>(in.wire, [&](const auto& r) { return w.feedback->EraseCustomer(p, r); }); break;
    case 15:
      f::Serve<v1::ExportCustomerDataRequest>(in.wire, [&](const auto& r) { return w.feedback->ExportCustomerData(p, r); });
      break;
  }
  return 0;
}
