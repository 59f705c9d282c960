// Prints the package's machine-readable copyright file (DEP-5). The client is Apache-2.0; its
// bundle also carries the npm packages it depends on (the lockfile's non-dev packages), whose
// licenses require their notices to travel with them: their copyright lines go into the bundle's
// paragraph and each license's text into a paragraph of its own.
//
// usage: node copyright.mjs <client dir>
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const clientDir = process.argv[2];
const lock = JSON.parse(readFileSync(path.join(clientDir, 'package-lock.json'), 'utf8'));

const modules = [];
for (const [where, info] of Object.entries(lock.packages)) {
  if (where === '' || info.dev) continue;
  const dir = path.join(clientDir, where);
  const name = where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length);
  const licenseFile = readdirSync(dir).find((f) => /^(licen[cs]e|copying)([-.][\w.-]*)?$/i.test(f));
  if (!info.license || !licenseFile) throw new Error(`${name}: no license field or license file in ${dir}`);
  const text = readFileSync(path.join(dir, licenseFile), 'utf8').replace(/\r\n/g, '\n');
  // A notice is a "Copyright (c) ..." line; one ending in ":" continues on the lines below it.
  const lines = text.split('\n');
  const notices = [];
  const body = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*Copyright\s+(\(c\)|©|\d|[A-Z])/.test(lines[i])) {
      body.push(lines[i]);
      continue;
    }
    let notice = lines[i].trim();
    if (notice.endsWith(':')) {
      const holders = [];
      while (i + 1 < lines.length && lines[i + 1].trim() !== '') holders.push(lines[++i].trim());
      notice = `${notice.slice(0, -1)} ${holders.join(', ')}`;
    }
    notices.push(notice);
  }
  modules.push({ name, version: info.version, license: info.license, notices, body: body.join('\n').replace(/\n{3,}/g, '\n\n') });
}
modules.sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));

// A DEP-5 multi-line value: every line indented by one space, empty lines written as " .".
const field = (text) =>
  text
    .trim()
    .split('\n')
    .map((l) => (l.trim() === '' ? ' .' : ` ${l.trimEnd()}`))
    .join('\n');

const licenses = [...new Set(modules.map((m) => m.license))].sort();
const notices = [...new Set(modules.flatMap((m) => (m.notices.length ? m.notices : [`Copyright the authors of ${m.name}`])))];
const out = [];
out.push(`Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: hackstream

Files: *
Copyright: HackStream contributors
License: Apache-2.0

Files: usr/share/hackstream/hackstream.cjs
Copyright: HackStream contributors
${notices.map((n) => ` ${n}`).join('\n')}
License: Apache-2.0 and ${licenses.join(' and ')}
Comment: The client's bundle includes these npm packages:
${field(modules.map((m) => `${m.name} ${m.version} (${m.license})`).join('\n'))}

License: Apache-2.0
 Licensed under the Apache License, Version 2.0 (the "License"); you may not
 use this file except in compliance with the License.
 .
 Unless required by applicable law or agreed to in writing, software
 distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
 WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
 License for the specific language governing permissions and limitations
 under the License.
 .
 On Debian systems, the complete text of the Apache License, Version 2.0 can
 be found in "/usr/share/common-licenses/Apache-2.0".`);
for (const license of licenses) {
  // One text per license (without its copyright lines, kept above): the most readable one,
  // wrapped rather than a paragraph per line.
  const widest = (text) => Math.max(...text.split('\n').map((l) => l.length));
  const body = modules.filter((m) => m.license === license).map((m) => m.body).sort((a, b) => widest(a) - widest(b))[0];
  out.push(`License: ${license}\n${field(body)}`);
}
process.stdout.write(`${out.join('\n\n')}\n`);
