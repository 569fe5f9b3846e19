#include "shared/reload.h"

#include <map>
#include <mutex>

namespace cx::shared {
namespace {

struct Hooks {
  std::mutex mu;
  int next = 0;
  std::map<int, std::function<void()>> hooks;
};

Hooks& TheHooks() {
  static Hooks* hooks = new Hooks();
  return *hooks;
}

}  // namespace

int AddReloadHook(std::function<void()> hook) {
  Hooks& h = TheHooks();
  std::lock_guard<std::mutex> lock(h.mu);
  h.hooks.emplace(h.next, std::move(hook));
  return h.next++;
}

void RemoveReloadHook(int id) {
  Hooks& h = TheHooks();
  std::lock_guard<std::mutex> lock(h.mu);
  h.hooks.erase(id);
}

void RunReloadHooks() {
  Hooks& h = TheHooks();
  std::lock_guard<std::mutex> lock(h.mu);  // a hook never adds or removes hooks
  for (auto& [id, hook] : h.hooks) hook();
}

}  // namespace cx::shared
