#include "shared/db/sqlite_wal_vfs.h"

#include <sqlite3.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace cx::shared::db {
namespace {

// The most bytes gathered, written at once when full: the base VFS's unix
// write masks a size with 0x1ffff (SQLite itself writes at most a 64 KiB
// page and a frame header).
constexpr int64_t kCapacity = 0x1f000;

std::atomic<int64_t> g_writes{0};
std::atomic<int64_t> g_flushes{0};
std::atomic<int64_t> g_rewrites{0};

sqlite3_vfs* g_base = nullptr;  // the default VFS this one wraps

// A WAL file: our fields, then the base VFS's file. Any other file is the
// base VFS's file alone, at the start of the same allocation, with the base
// VFS's methods: nothing of this file sees its calls.
struct WalFile {
  sqlite3_file file;  // pMethods = &kWalMethods
  sqlite3_file* real;
  char* data;  // kCapacity bytes once the file is written to
  int64_t start;  // the file offset of data[0]
  int64_t size;   // bytes gathered
};

int Flush(WalFile* f) {
  if (f->size == 0) return SQLITE_OK;
  g_flushes.fetch_add(1, std::memory_order_relaxed);
  const int64_t size = f->size;
  f->size = 0;  // a failed write leaves nothing to write again later
  return f->real->pMethods->xWrite(f->real, f->data, static_cast<int>(size), f->start);
}

WalFile* Wal(sqlite3_file* file) { return reinterpret_cast<WalFile*>(file); }

int WalClose(sqlite3_file* file) {
  WalFile* f = Wal(file);
  int rc = Flush(f);
  int closed = f->real->pMethods->xClose(f->real);
  std::free(f->data);
  f->data = nullptr;
  return rc != SQLITE_OK ? rc : closed;
}

int WalRead(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  WalFile* f = Wal(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xRead(f->real, out, amount, offset);
}

int WalWrite(sqlite3_file* file, const void* in, int amount, sqlite3_int64 offset) {
  WalFile* f = Wal(file);
  g_writes.fetch_add(1, std::memory_order_relaxed);
  if (f->size > 0 && offset >= f->start && offset + amount <= f->start + f->size) {
    // Rewrites gathered bytes (SQLite rewrites a frame of the open
    // transaction in place when the page changes again).
    g_rewrites.fetch_add(1, std::memory_order_relaxed);
    std::memcpy(f->data + (offset - f->start), in, static_cast<size_t>(amount));
    return SQLITE_OK;
  }
  const bool appends = f->size > 0 && offset == f->start + f->size;
  if (!appends || f->size + amount > kCapacity) {
    if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  }
  if (f->data == nullptr) f->data = static_cast<char*>(std::malloc(kCapacity));
  if (amount > kCapacity || f->data == nullptr) return f->real->pMethods->xWrite(f->real, in, amount, offset);
  if (f->size == 0) f->start = offset;
  std::memcpy(f->data + f->size, in, static_cast<size_t>(amount));
  f->size += amount;
  return SQLITE_OK;
}

int WalTruncate(sqlite3_file* file, sqlite3_int64 size) {
  WalFile* f = Wal(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xTruncate(f->real, size);
}

int WalSync(sqlite3_file* file, int flags) {
  WalFile* f = Wal(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xSync(f->real, flags);
}

int WalFileSize(sqlite3_file* file, sqlite3_int64* size) {
  WalFile* f = Wal(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFileSize(f->real, size);
}

int WalLock(sqlite3_file* file, int level) { return Wal(file)->real->pMethods->xLock(Wal(file)->real, level); }
int WalUnlock(sqlite3_file* file, int level) { return Wal(file)->real->pMethods->xUnlock(Wal(file)->real, level); }
int WalCheckReservedLock(sqlite3_file* file, int* out) {
  return Wal(file)->real->pMethods->xCheckReservedLock(Wal(file)->real, out);
}

int WalFileControl(sqlite3_file* file, int op, void* arg) {
  WalFile* f = Wal(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFileControl(f->real, op, arg);
}

int WalSectorSize(sqlite3_file* file) { return Wal(file)->real->pMethods->xSectorSize(Wal(file)->real); }
int WalDeviceCharacteristics(sqlite3_file* file) {
  return Wal(file)->real->pMethods->xDeviceCharacteristics(Wal(file)->real);
}

// Version 1: SQLite maps shared memory and pages through the database file,
// never through the WAL.
const sqlite3_io_methods kWalMethods = {
    1,
    WalClose,
    WalRead,
    WalWrite,
    WalTruncate,
    WalSync,
    WalFileSize,
    WalLock,
    WalUnlock,
    WalCheckReservedLock,
    WalFileControl,
    WalSectorSize,
    WalDeviceCharacteristics,
};

int Open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  if ((flags & SQLITE_OPEN_WAL) == 0) return g_base->xOpen(g_base, name, file, flags, out_flags);
  WalFile* f = Wal(file);
  f->file.pMethods = nullptr;  // until the base VFS has opened the file
  f->real = reinterpret_cast<sqlite3_file*>(f + 1);
  f->data = nullptr;
  f->start = 0;
  f->size = 0;
  int rc = g_base->xOpen(g_base, name, f->real, flags, out_flags);
  if (rc == SQLITE_OK) {
    f->file.pMethods = &kWalMethods;
  } else if (f->real->pMethods != nullptr) {
    f->real->pMethods->xClose(f->real);
  }
  return rc;
}

int Delete(sqlite3_vfs*, const char* name, int sync_dir) { return g_base->xDelete(g_base, name, sync_dir); }
int Access(sqlite3_vfs*, const char* name, int flags, int* out) { return g_base->xAccess(g_base, name, flags, out); }
int FullPathname(sqlite3_vfs*, const char* name, int size, char* out) {
  return g_base->xFullPathname(g_base, name, size, out);
}
void* DlOpen(sqlite3_vfs*, const char* name) { return g_base->xDlOpen(g_base, name); }
void DlError(sqlite3_vfs*, int size, char* out) { g_base->xDlError(g_base, size, out); }
void (*DlSym(sqlite3_vfs*, void* handle, const char* symbol))(void) { return g_base->xDlSym(g_base, handle, symbol); }
void DlClose(sqlite3_vfs*, void* handle) { g_base->xDlClose(g_base, handle); }
int Randomness(sqlite3_vfs*, int size, char* out) { return g_base->xRandomness(g_base, size, out); }
int Sleep(sqlite3_vfs*, int micros) { return g_base->xSleep(g_base, micros); }
int CurrentTime(sqlite3_vfs*, double* out) { return g_base->xCurrentTime(g_base, out); }
int GetLastError(sqlite3_vfs*, int size, char* out) {
  return g_base->xGetLastError != nullptr ? g_base->xGetLastError(g_base, size, out) : 0;
}
int CurrentTimeInt64(sqlite3_vfs*, sqlite3_int64* out) {
  if (g_base->iVersion >= 2 && g_base->xCurrentTimeInt64 != nullptr) return g_base->xCurrentTimeInt64(g_base, out);
  double days = 0;
  int rc = g_base->xCurrentTime(g_base, &days);
  *out = static_cast<sqlite3_int64>(days * 86400000.0);
  return rc;
}

sqlite3_vfs g_vfs;

}  // namespace

const char* GatheredWalVfs() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_base = sqlite3_vfs_find(nullptr);
    g_vfs = sqlite3_vfs{};
    g_vfs.iVersion = 2;
    g_vfs.szOsFile = static_cast<int>(sizeof(WalFile)) + g_base->szOsFile;
    g_vfs.mxPathname = g_base->mxPathname;
    g_vfs.zName = "cx-gathered-wal";
    g_vfs.xOpen = Open;
    g_vfs.xDelete = Delete;
    g_vfs.xAccess = Access;
    g_vfs.xFullPathname = FullPathname;
    g_vfs.xDlOpen = DlOpen;
    g_vfs.xDlError = DlError;
    g_vfs.xDlSym = DlSym;
    g_vfs.xDlClose = DlClose;
    g_vfs.xRandomness = Randomness;
    g_vfs.xSleep = Sleep;
    g_vfs.xCurrentTime = CurrentTime;
    g_vfs.xGetLastError = GetLastError;
    g_vfs.xCurrentTimeInt64 = CurrentTimeInt64;
    sqlite3_vfs_register(&g_vfs, /*makeDflt=*/0);
  });
  return g_vfs.zName;
}

GatheredWalStats GatheredWalCounts() {
  return {g_writes.load(std::memory_order_relaxed), g_flushes.load(std::memory_order_relaxed),
          g_rewrites.load(std::memory_order_relaxed)};
}

}  // namespace cx::shared::db
