/**
 * skopeo and umoci as the image verbs run them: one call with a generous timeout, its
 * failure classified into the RC table.
 */
import { classify, type Classifier } from '../../shared/errors';
import type { Ctx } from '../../shared/verb';

/** skopeo/umoci messages mapped to the RC table. */
export const IMAGE_ERRORS: Classifier = {
  patterns: [
    ['notFound', /no such file or directory|does not exist|not found|no descriptor found|unable to find/i],
    ['exists', /already exists/i],
  ],
};

/** Run skopeo or umoci; throws the classified AddressError when it fails. */
export async function tool(ctx: Ctx, argv: string[], timeoutMs = 600_000) {
  const r = await ctx.run(argv, { timeoutMs });
  if (!r.ok) throw classify(r, IMAGE_ERRORS);
  return r;
}
