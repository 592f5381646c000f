/** One code found in the sources: the classes (errors) or severities (issues), and the modules. */
export interface ScannedCode {
  readonly kinds: Set<string>;
  readonly files: Set<string>;
}
/** Every error and issue code raised in `srcDir`, read from the sources. */
export function scanCodes(srcDir: string): { errors: Map<string, ScannedCode>; issues: Map<string, ScannedCode> };
/** docs/errors.md from the lists of src/error-codes.ts and a scan of the sources. */
export function renderErrorsDoc(
  lists: { readonly sdkErrorCodes: Readonly<Record<string, string>>; readonly issueCodes: readonly string[] },
  scan: ReturnType<typeof scanCodes>,
): string;
