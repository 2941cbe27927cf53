// Host paths compared as paths, not as strings: "/srv/a" is below "/srv", not below "/sr".

/** Whether candidate is root itself or lies below it (a trailing slash on root does not count). */
export function isAtOrBelow(candidate: string, root: string): boolean {
  const dir = root.replace(/\/+$/, "");
  return candidate === dir || candidate.startsWith(`${dir}/`);
}
