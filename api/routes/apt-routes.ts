import express, { Router } from 'express';

/**
 * GET /apt/…: the client's signed apt repository, as client/packaging/build-repo.sh wrote it, so
 * a device installs and upgrades `hackstream` with apt from the same server it uses (the
 * signatures, not this route, are what apt trusts). Nothing but plain files; a missing one is
 * the usual JSON 404.
 */
export function aptRoutes(repoDir: string): Router {
  const router = Router();
  router.use('/apt', express.static(repoDir, { index: false, dotfiles: 'deny', redirect: false, fallthrough: true }));
  return router;
}
