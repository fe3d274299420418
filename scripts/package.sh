#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the Debian package of p9x from this tree, then checks it with lintian:
#
#   scripts/package.sh            -> build-deb/p9x_VERSION_ARCH.deb
#
# CPack's DEB generator over the same install() rules as `cmake --install`, so the package
# holds exactly what an installation holds (a debian/ directory would keep a second list of
# files, and need debhelper and a source-package layout for a tree that is not one). The
# package is configured with the prefix /usr (its /etc/default and /lib/systemd paths follow the
# prefix), builds only what it installs, strips the binaries, and takes its run-time
# dependencies from dpkg-shlibdeps. Install it with `apt install ./build-deb/p9x_*.deb`.
# P9X_PACKAGE_BUILD_DIR chooses the build directory; extra arguments go to cmake.
# Exit status: non-zero if the build fails or lintian reports an error.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${P9X_PACKAGE_BUILD_DIR:-$root/build-deb}
"$root/scripts/setup.sh" --build-only
cmake_args=()
command -v ninja >/dev/null 2>&1 && cmake_args=(-G Ninja)
command -v ccache >/dev/null 2>&1 && cmake_args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# Debian's hardening flags (fortify, stack protector, relro, bindnow), as debhelper would pass.
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
cmake -S "$root" -B "$build" "${cmake_args[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS=$(dpkg-buildflags --get CXXFLAGS) $(dpkg-buildflags --get CPPFLAGS)" \
  "-DCMAKE_EXE_LINKER_FLAGS=$(dpkg-buildflags --get LDFLAGS)" -DCMAKE_INSTALL_PREFIX=/usr -DP9X_BENCH=OFF -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON "$@" >/dev/null
cmake --build "$build" -j "$(nproc)" --target p9xd p9x p9x-conform p9x_man p9x_changelog
rm -f "$build"/p9x_*.deb
(cd "$build" && cpack -G DEB >/dev/null)
deb=$(ls "$build"/p9x_*.deb)
echo "package: $deb"
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'
if command -v lintian >/dev/null; then
  # Errors fail; warnings and informational tags are printed (the README's section on the
  # package explains the ones that remain).
  lintian --fail-on error --display-info "$deb"
else
  echo "package: lintian is not installed (scripts/setup.sh installs it); not checked"
fi
