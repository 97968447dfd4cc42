// Package uitest holds the end-to-end test of the audit viewer: it serves
// the bundled example's audit trail with "threadline serve" and drives a
// headless Chromium through the pages with chromedp. It is its own module
// so that the browser driver never becomes a dependency of Threadline.
//
// The test needs the chromium binary (Debian package chromium; set
// THREADLINE_CHROMIUM to use another path) and PostgreSQL; it fails, never
// skips, without them. Screenshots go to the directory named by
// THREADLINE_UI_SCREENSHOTS (default: a threadline-ui-screenshots
// directory in the system's temporary directory).
package uitest
