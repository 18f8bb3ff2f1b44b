/**
 * The JSON schema of the OCI runtime-spec's config.json, carried as the spec's own files
 * (runtime-spec v1.3.0 — oci-schema.ts OCI_SCHEMA_VERSION — `schema/`, commit 92249139eea7161e13745abd4cb6d0ea02a3227a;
 * Apache-2.0, see LICENSE and README.md beside this file). Loaded only by
 * oci-schema.ts, on the first validation: a handler that never writes a config does not
 * read them.
 */
import configFreebsd from './config-freebsd.json';
import configLinux from './config-linux.json';
import configSchema from './config-schema.json';
import configSolaris from './config-solaris.json';
import configVm from './config-vm.json';
import configWindows from './config-windows.json';
import configZos from './config-zos.json';
import defs from './defs.json';
import defsFreebsd from './defs-freebsd.json';
import defsLinux from './defs-linux.json';
import defsVm from './defs-vm.json';
import defsWindows from './defs-windows.json';
import defsZos from './defs-zos.json';

/** The entry point, validated against. */
export const ROOT = 'config-schema.json';

/** Every file by the name the others `$ref` it with ("defs.json#/definitions/..."). */
export const SCHEMAS: Record<string, object> = {
  'config-schema.json': configSchema,
  'config-linux.json': configLinux,
  'config-freebsd.json': configFreebsd,
  'config-solaris.json': configSolaris,
  'config-vm.json': configVm,
  'config-windows.json': configWindows,
  'config-zos.json': configZos,
  'defs.json': defs,
  'defs-linux.json': defsLinux,
  'defs-freebsd.json': defsFreebsd,
  'defs-vm.json': defsVm,
  'defs-windows.json': defsWindows,
  'defs-zos.json': defsZos,
};
