/* posix_spawn_file_actions_addclosefrom_np (glibc 2.34) is a GNU extension, declared only
   under _GNU_SOURCE, which Swift's Glibc module is not built with: this wrapper, compiled
   with it, makes the call reachable from Swift (Handlers/Exec/ChildProcess.swift). */
#include <spawn.h>

/* Adds a file action closing every descriptor from `lowest` up in the child. */
int cl_spawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int lowest);
