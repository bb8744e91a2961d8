import { describe, expect, it } from 'vitest';
import { faultError, parseFault } from '../../../connectors/winrm/errors.js';
import { parseXml } from '../../../connectors/winrm/xml.js';

/** Fault bodies shaped like the ones real servers send (as recorded by pywinrm and WinRb). */
const S = 'http://www.w3.org/2003/05/soap-envelope';

const timedOut = `<s:Envelope xml:lang="en-US" xmlns:s="${S}" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:e="http://schemas.xmlsoap.org/ws/2004/08/eventing" xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">
<s:Header><a:Action>http://schemas.dmtf.org/wbem/wsman/1/wsman/fault</a:Action><a:MessageID>uuid:6C17E3B4</a:MessageID><a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To><a:RelatesTo>uuid:11111111</a:RelatesTo><p:ActivityId>C4A9DA43</p:ActivityId></s:Header>
<s:Body><s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>w:TimedOut</s:Value></s:Subcode></s:Code>
<s:Reason><s:Text xml:lang="en-US">The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  </s:Text></s:Reason>
<s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="2150858793" Machine="10.0.0.7"><f:Message>The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  </f:Message></f:WSManFault></s:Detail></s:Fault></s:Body></s:Envelope>`;

const wmiQuota = `<s:Envelope xmlns:s="${S}"><s:Body><s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>w:QuotaLimit</s:Value></s:Subcode></s:Code>
<s:Reason><s:Text xml:lang="">The WS-Management service cannot process the request. This user is allowed a maximum number of 1500 concurrent operations, which has been exceeded.</s:Text></s:Reason>
<s:Detail><p:MSFT_WmiError b:IsCIM_Error="true" xmlns:b="http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd" xmlns:p="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError" xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="p:MSFT_WmiError_Type">
<p:CIMStatusCode xsi:type="cim:cimUInt32">27</p:CIMStatusCode><p:error_Code xsi:type="cim:cimUInt32">2150859174</p:error_Code></p:MSFT_WmiError></s:Detail></s:Fault></s:Body></s:Envelope>`;

const nestedProvider = `<s:Envelope xmlns:s="${S}"><s:Body><s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>w:InternalError</s:Value></s:Subcode></s:Code>
<s:Reason><s:Text xml:lang="en-US">The filename or extension is too long. </s:Text></s:Reason>
<s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="2147942606" Machine="win"><f:Message><f:ProviderFault provider="Shell cmd plugin" path="%systemroot%\\system32\\winrscmd.dll">The filename or extension is too long. </f:ProviderFault></f:Message></f:WSManFault></s:Detail></s:Fault></s:Body></s:Envelope>`;

const noReason = `<soap:Envelope xmlns:soap="${S}"><soap:Body><soap:Fault><soap:Code><soap:Value>soap:Sender</soap:Value><soap:Subcode><soap:Value>w:SchemaValidationError</soap:Value></soap:Subcode></soap:Code></soap:Fault></soap:Body></soap:Envelope>`;

describe('SOAP faults', () => {
  it('reads Code, Subcode, Reason and the WSManFault code, whatever the prefixes', async () => {
    const fault = parseFault(await parseXml(timedOut))!;
    expect(fault).toMatchObject({ code: 'Receiver', subcode: 'TimedOut', wsmanCode: 2150858793 });
    expect(fault.reason).toMatch(/^The WS-Management service cannot complete/);
    expect(faultError('p:5985', 'Receive', fault, 500)).toMatchObject({
      code: 'WINRM_TIMEOUT',
      retryable: true,
    });
  });

  it('reads the quota code from MSFT_WmiError/error_Code: retryable', async () => {
    const fault = parseFault(await parseXml(wmiQuota))!;
    expect(fault.wsmanCode).toBe(2150859174);
    const error = faultError('p:5985', 'Command', fault, 500);
    expect(error).toMatchObject({ code: 'WINRM_QUOTA', retryable: true });
    expect(error.message).toMatch(/MaxConcurrentOperationsPerUser/);
  });

  it('reads a nested ProviderFault, names the fault by its codes only, and keeps it non-retryable', async () => {
    const fault = parseFault(await parseXml(nestedProvider))!;
    expect(fault).toMatchObject({ wsmanCode: 2147942606, subcode: 'InternalError' });
    expect(fault.message).toContain('The filename or extension is too long.');
    const error = faultError('p:5985', 'Command', fault, 500);
    expect(error).toMatchObject({ code: 'WINRM_FAULT', retryable: false });
    // The proxy's own words stay out of the message and the error (a proxy may not be what it seems).
    expect(error.message).toMatch(/SOAP fault \(fault 2147942606 \(InternalError\), HTTP 500\)/);
    expect(JSON.stringify(error)).not.toContain('filename');
    expect(error.message).not.toContain('filename');
    expect(error.fault).toEqual({ code: 'Receiver', subcode: 'InternalError', wsmanCode: 2147942606 });
  });

  it('copes with a fault without Reason or Detail', async () => {
    const fault = parseFault(await parseXml(noReason))!;
    expect(fault).toMatchObject({ code: 'Sender', subcode: 'SchemaValidationError', wsmanCode: undefined });
    expect(faultError('p:5985', 'Create', fault, 500).message).toMatch(
      /fault without a code \(SchemaValidationError\), HTTP 500/,
    );
  });

  it('finds no fault in a normal response', async () => {
    expect(parseFault(await parseXml(`<s:Envelope xmlns:s="${S}"><s:Body/></s:Envelope>`))).toBeUndefined();
  });
});
