// Validates PDF files against a PDF/A flavour with the veraPDF library, in one JVM for all of
// them (a JVM start costs more than a validation). Used by tests/test_pdfa.py through
// scripts/install-verapdf.sh, which compiles it into .tools/verapdf/classes.
//
//   java -cp '.tools/verapdf/classes:.tools/verapdf/lib/*' PdfaCheck 3b FILE...
//   java -cp ... PdfaCheck 3b -      file names on standard input, one a line, until it closes
//
// Prints one line per file: "PASS<TAB>file", or "FAIL<TAB>file" followed by one line per failed
// rule: "<TAB>clause-test<TAB>count<TAB>rule<TAB>first failure's details"; "ERROR<TAB>file<TAB>why"
// for a file veraPDF cannot parse. Each file's report ends with a line "." (so that a caller
// on standard input knows it is complete). Exits 0 when every file passes, 1 otherwise.

import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

import org.verapdf.gf.foundry.VeraGreenfieldFoundryProvider;
import org.verapdf.pdfa.Foundries;
import org.verapdf.pdfa.PDFAParser;
import org.verapdf.pdfa.PDFAValidator;
import org.verapdf.pdfa.flavours.PDFAFlavour;
import org.verapdf.pdfa.results.TestAssertion;
import org.verapdf.pdfa.results.ValidationResult;
import org.verapdf.pdfa.validation.profiles.RuleId;

public final class PdfaCheck {
    private PdfaCheck() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: PdfaCheck FLAVOUR FILE...   (FLAVOUR e.g. 3b)");
            System.exit(2);
        }
        VeraGreenfieldFoundryProvider.initialise();
        PDFAFlavour flavour = PDFAFlavour.fromString(args[0]);
        boolean allPassed = true;
        if (args.length == 2 && args[1].equals("-")) {
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String file;
            while ((file = in.readLine()) != null) {
                if (!file.isEmpty()) {
                    allPassed &= check(file, flavour);
                }
            }
        } else {
            for (int i = 1; i < args.length; i++) {
                allPassed &= check(args[i], flavour);
            }
        }
        System.exit(allPassed ? 0 : 1);
    }

    private static boolean check(String file, PDFAFlavour flavour) {
        boolean passed = false;
        try (InputStream in = new FileInputStream(file);
             PDFAParser parser = Foundries.defaultInstance().createParser(in, flavour)) {
            PDFAValidator validator = Foundries.defaultInstance().createValidator(flavour, false);
            ValidationResult result = validator.validate(parser);
            passed = result.isCompliant();
            System.out.println((passed ? "PASS\t" : "FAIL\t") + file);
            Map<String, int[]> counts = new LinkedHashMap<>();
            Map<String, String> messages = new LinkedHashMap<>();
            for (TestAssertion assertion : result.getTestAssertions()) {
                if (assertion.getStatus() != TestAssertion.Status.FAILED) {
                    continue;
                }
                RuleId rule = assertion.getRuleId();
                String key = rule.getClause() + "-" + rule.getTestNumber();
                counts.computeIfAbsent(key, k -> new int[1])[0]++;
                messages.putIfAbsent(key, oneLine(assertion.getMessage())
                        + "\t" + oneLine(assertion.getErrorMessage()));
            }
            for (Map.Entry<String, int[]> entry : counts.entrySet()) {
                System.out.println("\t" + entry.getKey() + "\t" + entry.getValue()[0] + "\t"
                        + messages.get(entry.getKey()));
            }
        } catch (Exception e) {
            System.out.println("ERROR\t" + file + "\t" + oneLine(String.valueOf(e)));
        }
        System.out.println(".");
        System.out.flush();
        return passed;
    }

    private static String oneLine(String text) {
        return text == null ? "" : text.replaceAll("\\s+", " ").trim();
    }
}
