// SIGHUP: "reload what you read from files". Parts that can reload (the
// tokens file) register a hook; the signal thread of a service's main runs
// every hook on SIGHUP (WaitForTerminationSignal).
#ifndef CX_SHARED_RELOAD_H_
#define CX_SHARED_RELOAD_H_

#include <functional>

namespace cx::shared {

// Returns an id for RemoveReloadHook.
int AddReloadHook(std::function<void()> hook);
void RemoveReloadHook(int id);
void RunReloadHooks();

}  // namespace cx::shared

#endif  // CX_SHARED_RELOAD_H_
