// Thunderbird preferences of every session (copied into the profile as user.js at start).
// No checks of being the system's mail client, no start page from the web, no telemetry or
// update checks: a session is one user's mail client in a container that is thrown away.
user_pref("mail.shell.checkDefaultClient", false);
user_pref("mailnews.start_page.enabled", false);
user_pref("mail.rights.version", 1);
user_pref("app.update.enabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
// A persistent session ends by closing Thunderbird's windows (hackstream-app-window --close), so
// that it saves its profile: no dialog may hold that quit back, and the quit returns once every
// service has written its data.
user_pref("browser.warnOnQuit", false);
user_pref("toolkit.shutdown.fastShutdownStage", 3);
