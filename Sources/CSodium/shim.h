// Debian's libsodium-dev: argon2id password hashes for the console's users
// (docs/console.md). Only Console/PasswordHash.swift imports this module.
#include <sodium.h>
