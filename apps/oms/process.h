#pragma once
// What both modes' compositions do around the services: stop signals, the JWT secret kept in
// the data directory, and the ready line that scripts and tests wait for.
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "libs/auth/access.h"
#include "libs/auth/jwks.h"
#include "libs/http/server.h"
#include "libs/runtime/settings.h"

namespace oms::app {

// The HTTP server options every process takes from its settings (host, port, handler threads).
http::ServerOptions server_options(const runtime::Settings& settings);

// Blocks SIGINT/SIGTERM in every thread started afterwards; wait for them with the functions
// below. Call first thing, before any thread exists.
sigset_t block_stop_signals();
// Waits for a stop signal; returns its number.
int wait_stop_signal(const sigset_t& signals);
// "SIGTERM" or "SIGINT", for the logs.
const char* signal_name(int sig);
// Waits up to `timeout` for a stop signal; returns its number, or 0 when none came.
int poll_stop_signal(const sigset_t& signals, std::chrono::milliseconds timeout);

// Creates the data directory if need be and closes it to other users: the directory 0700, its
// files 0600, and the process's umask 077 for everything it creates afterwards (SQLite files).
void secure_data_dir(const std::string& dir);

// A secret generated once and kept in `dir`/`name` (0600): the HS256 key (jwt.secret), so tokens
// survive restarts, and the operator password (admin.password). The caller has made `dir`
// private (secure_data_dir). `created` says whether it was made just now.
std::string load_or_create_secret(const std::string& dir, const std::string& name = "jwt.secret",
                                  bool* created = nullptr);

// The password a staff or admin login must present: --admin-password, else the one kept in the
// data dir (generated and printed on stdout the first time).
std::string operator_password(const runtime::Settings& settings);

// Who callers are, as this process verifies them (docs/adr/0010): in dev mode an HS256 issuer
// (the gateway signs with it, every process verifies), under `--auth external` the identity
// provider's public keys only. `secret`: dev mode's key (empty under external).
struct Identity {
  std::unique_ptr<auth::JwtCodec> issuer;
  std::unique_ptr<auth::JwksVerifier> external;
  std::unique_ptr<auth::Access> access;
};
Identity make_identity(const runtime::Settings& settings, const std::string& secret);

// Prints "oms listening on http://HOST:PORT" on stdout (the line scripts and tests wait for).
void print_ready(const std::string& host, std::uint16_t port);

}  // namespace oms::app
