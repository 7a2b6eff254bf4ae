"""The staff console, mounted by `publisher web` under /admin/: sign-in, the pages, and the
Admin API under /admin/api/ (`app.create_admin` assembles them).

How a page or an API route is written:

- **Declare its permission.** Every route takes `actor: Actor = allow("posts.write")`
  (`permissions.allow`; the actions and which role has which are in
  `permissions.ACTIONS` and `ROLES`). That one dependency signs the request in (session
  cookie or `Authorization: Bearer <key>`, `auth.authenticate`), answers 401 without a
  person and 403 for a role that may not, checks the CSRF token on a change made with the
  cookie, and hands the route the `auth.Actor`. `allow(PUBLIC)` is for the sign-in pages
  only (the actor is then None or whoever is signed in). A route without a declaration,
  or a GET declaring an action that changes things, stops the app at assembly
  (`permissions.check_routes`): nothing runs unchecked. A second check inside a route
  (an author's edit that would publish) is `permissions.require(actor, "posts.publish")`.
- **The signed-in person**: `actor.member` (a `store.staff.StaffMember`: id, email, name,
  role); `actor.who` says who and from where, for the audit log.
- **The CSRF token**: `actor.csrf_token`. Pages put it in each form as the hidden field
  `csrf_token` (`templates/admin/_layout.html` does for sign-out); scripts send it as
  `X-CSRF-Token` (GET /admin/api/me returns it). Requests with an API key need none.
- **Do the work and write the audit row**: call the same library function the command line
  calls, through `console.change(request, actor.did("post.update", slug, "date"), function,
  *args)` (`console.Console`, found at `request.app.state.console`): it runs in a worker
  thread and writes the audit row inside the function's own store transaction
  (`store.db.joined`), or after it for a change outside the store (a post file). Reads go
  through `console.read(function, *args)` (the store is passed first).
- **Pages** render `templates/admin/<name>.html` with `pages.render.page(request, name,
  **context)`, which adds `actor`, `root` (/admin) and the site; they live in `pages/`, one
  module per area, and are listed in `app.PAGES`. API resources live in `api/`, one module
  per resource, listed in `api.ROUTERS`, with pydantic models for every body.
"""
