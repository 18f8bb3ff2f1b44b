/** The naming rules of ADDRESS LXCRI: what its tool accepts, checked before anything runs (RC 2). */
import { regexRule, dotSegments } from '../../shared/names';

/** Unix signal name or number for kill. */
export const signalName = regexRule('signal', /^(?:SIG)?[A-Z][A-Z0-9+-]{0,15}$|^\d{1,2}$/i, 'a signal name (TERM, SIGKILL) or number');

/** OCI container id. */
export const ociContainerId = regexRule(
  'container id',
  /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$/,
  'letters, digits, "_", ".", "+", "-", at most 128, starting with a letter or digit',
);

/** OCI image reference name[:tag] as kept in the local image index. */
export const ociImageRef = regexRule(
  'image reference',
  /^[a-z0-9][a-z0-9._/-]{0,127}(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?$/,
  'name[:tag], lowercase name of letters, digits, ".", "_", "-", "/"',
  dotSegments,
);
