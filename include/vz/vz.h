/* SPDX-License-Identifier: MIT */
/**
 * @file vz.h
 * @brief libvz umbrella header: include this one.
 *
 * @mainpage libvz
 *
 * libvz runs a program in a sandbox chosen at run time: a Linux container (namespaces,
 * an overlay root file system, cgroups) or a KVM virtual machine with its own kernel,
 * through one API. Start with vz_config_new(), vz_sandbox_create(),
 * vz_sandbox_start() and vz_sandbox_wait(). See docs/api.md for the semantics.
 */
#ifndef VZ_VZ_H
#define VZ_VZ_H

#include <vz/common.h>
#include <vz/version.h>
#include <vz/error.h>
#include <vz/config.h>
#include <vz/sandbox.h>
#include <vz/log.h>

#endif /* VZ_VZ_H */
