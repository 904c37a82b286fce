// What a run records about the binary that made it (config.json's normlab_version, git_commit).
#pragma once

namespace nl::apps {

// `git describe --always --dirty` of the source tree when the binary was built ("unknown"
// outside a git checkout): generated at every build by apps/git_commit.cmake.
const char* git_commit();

}  // namespace nl::apps
